"""Fuzzed inputs of the policy node's checks: instruction strings and ``Heightmap`` messages.

Hypothesis drives :func:`~cliport_policy.node_config.clean_instruction` and
:func:`~cliport_policy.node_config.decode_heightmap` with hundreds of hostile inputs each: a
bad one is refused with a one-line reason, never another exception, a numpy warning or a
silent acceptance. The node over DDS gets the worst cases in ``test_policy_node_fuzz.py``.
"""

from __future__ import annotations

import array
import json
import math
import unicodedata

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cliport_msgs.msg import Heightmap
from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.image_conversion import array_to_image
from cliport_perception.workspace import Workspace
from cliport_policy.node_config import (
    REFUSED_CATEGORIES,
    PolicyNodeConfig,
    Refusal,
    clean_instruction,
    decode_heightmap,
    preview,
    status_text,
)

MAX = PolicyNodeConfig().max_instruction_length
NOW = 1_700_000_000 * 10**9
SMALL = Workspace(pixel_size=0.05)  # a 20 x 10 grid: hundreds of messages in well under a second
CFG = PolicyNodeConfig(grid_shape=SMALL.shape)


def one_line(text: str, limit: int = 600) -> None:
    assert "\n" not in text and "\r" not in text and len(text) <= limit, text


# --------------------------------------------------------------------------- instructions

# Characters that break naive handling: NUL and C0/C1 controls, zero-width and bidi
# controls, line/paragraph separators, BOM, non-characters, tags, private use, lone
# combining marks, RTL letters, emoji (ZWJ sequences, flags), odd spaces.
NASTY = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u200b", "\u200d", "\u200e",
         "\u202e", "\u2066", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ue000",
         "\U000e0001", "\U000f0000", "\U0010ffff", "\u0301", "\u0308", "\u20dd", "\u0e31",
         "\u05d0", "\u0634", "\u05bc", "\U0001f600", "\U0001f469\u200d\U0001f467",
         "\U0001f1fa\U0001f1f8", "\t", "\n", "\r", " ", "\u3000", "\xa0", "\u1680", "\u00ad"]
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u3000"
# every plane; lone surrogates cannot be sent as a ROS string (UTF-8 on the wire)
ANY_CHAR = st.characters(exclude_categories=("Cs",))
INSTRUCTIONS = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.lists(st.sampled_from(NASTY) | st.sampled_from(list("put the red block ")),
             max_size=30).map("".join),
    st.text(st.sampled_from(WHITESPACE), max_size=20),
    st.builds(lambda pad, body, n: pad + body * n + pad, st.sampled_from(["", " ", "\t\n"]),
              st.text(ANY_CHAR, min_size=1, max_size=4), st.integers(MAX // 4, 40 * MAX)),
)


def acceptable(raw: str) -> bool:
    """The rule the node states for an instruction, to compare its verdict with."""
    text = raw.strip()
    categories = [unicodedata.category(c) for c in text]
    return (0 < len(text) <= MAX and not REFUSED_CATEGORIES.intersection(categories)
            and any(c[0] == "L" for c in categories))


@pytest.mark.filterwarnings("error")
@settings(max_examples=400)
@given(raw=INSTRUCTIONS)
def test_fuzzed_instructions_are_accepted_clean_or_refused_in_one_line(raw):
    try:
        text = clean_instruction(raw, MAX)
    except Refusal as exc:
        event("refused")
        assert not acceptable(raw)
        one_line(str(exc))
        status = status_text("refused", 7, raw, reason=str(exc))
        one_line(status, 1200)  # 60 characters shown, each up to 12 as ASCII escapes
        assert json.loads(status)["instruction"] == preview(raw)
        return
    event("accepted")
    assert acceptable(raw) and text == raw.strip()


@pytest.mark.parametrize("raw, needle", [
    ("", "empty"), (" \t\r\n\u3000", "empty"), ("put\x00the block", "U+0000"),
    ("\x1b[31mred block", "U+001B"), ("\u202eput the block", "U+202E"),
    ("put\u2028the block", "U+2028"), ("\U000e0001put", "U+E0001"),
    ("x" * (MAX + 1), f"{MAX + 1} characters"), ("\U0001f600\U0001f916", "no letters"),
    ("\u0301\u0308", "no letters"), ("42 !", "no letters"),
])
def test_named_bad_instructions(raw, needle):
    with pytest.raises(Refusal, match=needle.replace("+", r"\+")):
        clean_instruction(raw, MAX)


@pytest.mark.parametrize("raw", ["put the red block in the blue bowl", "x" * MAX,
                                 "\u0301put the block", "שים את הקוביה בקערה",
                                 "\U0001f534 block \u2192 \U0001f535 bowl", "把红色方块放进碗里"])
def test_unusual_but_printable_instructions_pass(raw):
    assert clean_instruction(f"  {raw}\n", MAX) == raw


# --------------------------------------------------------------------------- heightmaps


def base_frame(ws: Workspace = SMALL, stamp_ns: int = NOW - 500_000_000) -> HeightmapFrame:
    rng = np.random.default_rng(0)
    rows, cols = ws.shape
    return HeightmapFrame(rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8),
                          rng.uniform(0, ws.z_max - ws.z_min, (rows, cols)).astype(np.float32),
                          ws, valid=rng.random((rows, cols)) > 0.3, frame_id="base",
                          stamp_ns=stamp_ns, camera_frames=["top_color_optical_frame"])


BASE_MSG = to_msg(base_frame())
IMAGES = ("colormap", "heightmap", "valid_mask")
BAD_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.05, 1e-300, 5e-324, 1e300, -1e308, 1e308]
HUGE = [2**31 - 1, 2**32 - 1]


def fresh() -> Heightmap:
    msg = Heightmap()
    msg.header.frame_id = BASE_MSG.header.frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = (BASE_MSG.header.stamp.sec,
                                                      BASE_MSG.header.stamp.nanosec)
    for name in ("pixel_size", "bounds_x_min", "bounds_x_max", "bounds_y_min", "bounds_y_max",
                 "bounds_z_min", "bounds_z_max"):
        setattr(msg, name, getattr(BASE_MSG, name))
    for name in IMAGES:
        src, dst = getattr(BASE_MSG, name), getattr(msg, name)
        dst.header.frame_id = src.header.frame_id
        dst.height, dst.width, dst.step = src.height, src.width, src.step
        dst.encoding, dst.is_bigendian = src.encoding, src.is_bigendian
        dst.data = array.array("B", src.data)
    msg.camera_frames = list(BASE_MSG.camera_frames)
    return msg


# Each mutation changes one message in place; it returns True when the message must now be
# refused (a value that no reading can make consistent), False when either answer is fine.
def m_dimension(msg, data) -> bool:
    image = getattr(msg, data.draw(st.sampled_from(IMAGES)))
    field = data.draw(st.sampled_from(["height", "width", "step"]))
    old = getattr(image, field)
    new = data.draw(st.sampled_from([0, 1, old - 1, old + 1, 2 * old, *HUGE])
                    | st.integers(0, 200))
    setattr(image, field, max(new, 0))
    return max(new, 0) != old


def m_data_length(msg, data) -> bool:
    image = getattr(msg, data.draw(st.sampled_from(IMAGES)))
    raw = bytes(image.data)
    cut = data.draw(st.integers(-64, 64).filter(bool))
    image.data = array.array("B", raw[:cut] if cut < 0 else raw + bytes(cut))
    return True


def m_encoding(msg, data) -> bool:
    name = data.draw(st.sampled_from(IMAGES))
    image = getattr(msg, name)
    new = data.draw(st.sampled_from(["rgb8", "bgr8", "8UC3", "mono8", "16UC1", "32FC1",
                                     "64FC1", "", "RGB8", "32FC1\x00", "x" * 5000])
                    | st.text(max_size=12))
    old, image.encoding = image.encoding, new
    return new != old


def m_big_endian(msg, data) -> bool:
    getattr(msg, data.draw(st.sampled_from(IMAGES))).is_bigendian = 1
    return False  # byte-swapped heights may still read as plausible ones


def m_heights(msg, data) -> bool:
    rows, cols = SMALL.shape
    heights = base_frame().heightmap
    if data.draw(st.booleans()):
        values = [data.draw(st.sampled_from([math.nan, math.inf, -math.inf]))]
        heights[:] = values[0]
    else:
        values = data.draw(st.lists(st.sampled_from(
            [math.nan, math.inf, -math.inf, 3e38, -3e38, 1e3, -1.0, 0.5, 0.3, -0.02, 1e-45,
             0.0, 0.28]), min_size=1, max_size=6))
        cells = data.draw(st.lists(st.integers(0, rows * cols - 1), min_size=len(values),
                                   max_size=len(values)))
        heights.reshape(-1)[cells] = values
    msg.heightmap = array_to_image(heights, "32FC1", header=msg.heightmap.header)
    finite = heights[np.isfinite(heights)]
    top = SMALL.z_max - SMALL.z_min
    return finite.size == 0 or bool(((finite < -0.01) | (finite > top + 0.01)).any())


def m_pixel_size(msg, data) -> bool:
    msg.pixel_size = data.draw(st.sampled_from([*BAD_FLOATS, 0.025, 0.1, 0.049]))
    return True


def m_bounds(msg, data) -> bool:
    axis = data.draw(st.sampled_from("xyz"))
    lo, hi = f"bounds_{axis}_min", f"bounds_{axis}_max"
    if data.draw(st.booleans()):
        a, b = getattr(msg, lo), getattr(msg, hi)
        setattr(msg, lo, b)
        setattr(msg, hi, a)
        return True
    name = data.draw(st.sampled_from([lo, hi]))
    value = data.draw(st.sampled_from(BAD_FLOATS))
    setattr(msg, name, value)
    return not math.isfinite(value) or getattr(msg, lo) >= getattr(msg, hi) or axis != "z"


def m_stamp(msg, data) -> bool:
    stamp = msg.header.stamp
    sec, nanosec, bad = data.draw(st.sampled_from([
        (0, 0, True), (NOW // 10**9 + 3, 0, True), (NOW // 10**9 + 3600, 0, True),
        (NOW // 10**9 - 3, 0, True), (2**31 - 1, 999_999_999, True), (-1, 0, True),
        (-(2**31), 0, True), (NOW // 10**9, 10**9, True), (NOW // 10**9 - 1, 2**32 - 1, True),
        (NOW // 10**9 - 1, 0, False), (NOW // 10**9 + 1, 0, False)]))
    stamp.sec, stamp.nanosec = sec, nanosec
    return bad


def m_frame(msg, data) -> bool:
    frame = data.draw(st.sampled_from(["", "world", "base ", "BASE", "base\x00x", "/base",
                                       "b" * 100_000]) | st.text(max_size=10))
    msg.header.frame_id = frame
    return frame != "base"


def m_valid_mask(msg, data) -> bool:
    rows, cols = SMALL.shape
    choice = data.draw(st.sampled_from(["none", "unseen", "float", "one"]))
    if choice == "none":
        msg.valid_mask = type(msg.valid_mask)()
        return False
    mask = np.zeros((rows, cols), np.uint8)
    if choice == "float":
        msg.valid_mask = array_to_image(mask.astype(np.float32) + 1, "32FC1")
        return True
    if choice == "one":
        mask[0, 0] = 255
    msg.valid_mask = array_to_image(mask, "mono8")
    return choice == "unseen"


MUTATIONS = [m_dimension, m_data_length, m_encoding, m_big_endian, m_heights, m_pixel_size,
             m_bounds, m_stamp, m_frame, m_valid_mask]


def judge(msg) -> HeightmapFrame | None:
    """The decoded frame, or None when refused (then in one line)."""
    try:
        frame = decode_heightmap(msg, NOW, CFG)
    except Refusal as exc:
        event("refused")
        one_line(str(exc))
        return None
    event("accepted")
    # What the policy acts on is what the node promises.
    assert frame.frame_id == "base" and abs(frame.stamp_ns - NOW) <= 2 * 10**9
    assert frame.heightmap.shape == SMALL.shape and frame.colormap.shape == SMALL.shape + (3,)
    assert frame.heightmap.dtype == np.float32 and frame.colormap.dtype == np.uint8
    finite = frame.heightmap[np.isfinite(frame.heightmap)]
    z = frame.workspace.z_max - frame.workspace.z_min
    assert finite.size and float(finite.min()) >= -0.01 and float(finite.max()) <= z + 0.01
    assert frame.valid is None or (frame.valid.shape == SMALL.shape and frame.valid.any())
    return frame


@pytest.mark.filterwarnings("error")
@settings(max_examples=400)
@given(data=st.data())
def test_a_fuzzed_heightmap_field_is_refused_in_one_line_or_harmless(data):
    msg = fresh()
    mutate = data.draw(st.sampled_from(MUTATIONS))
    if mutate(msg, data):
        assert judge(msg) is None, mutate.__name__
    else:
        judge(msg)


@pytest.mark.filterwarnings("error")
@settings(max_examples=200)
@given(data=st.data())
def test_several_fuzzed_heightmap_fields_never_get_through_inconsistent(data):
    msg = fresh()
    for mutate in data.draw(st.lists(st.sampled_from(MUTATIONS), min_size=2, max_size=4)):
        mutate(msg, data)
    judge(msg)


@pytest.mark.filterwarnings("error")
def test_a_huge_z_range_is_judged_without_overflow():
    msg = fresh()
    msg.bounds_z_min = -1e308  # the z range no longer fits the map's float32
    frame = decode_heightmap(msg, NOW, CFG)  # a harmless range: accepted, without a warning
    z = frame.workspace.z_max - frame.workspace.z_min
    assert float(frame.heightmap.max()) <= z


def test_the_unmutated_message_is_accepted():
    frame = decode_heightmap(fresh(), NOW, CFG)
    np.testing.assert_array_equal(frame.heightmap, base_frame().heightmap)


def test_no_heightmap_and_going_backwards_in_time():
    with pytest.raises(Refusal, match="no heightmap received yet"):
        decode_heightmap(None, NOW, CFG)
    newer = to_msg(base_frame(stamp_ns=NOW - 10**8))
    older = to_msg(base_frame(stamp_ns=NOW - 15 * 10**8))  # arrived later, stamped earlier
    decode_heightmap(newer, NOW, CFG)
    assert decode_heightmap(older, NOW, CFG).stamp_ns == NOW - 15 * 10**8  # judged by age
    with pytest.raises(Refusal, match="stale"):
        decode_heightmap(older, NOW + 10**9, CFG)
