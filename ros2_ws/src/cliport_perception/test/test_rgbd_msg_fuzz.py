"""Fuzzed camera input decoding: ``sensor_msgs/Image`` pairs and ``CameraInfo``.

Hypothesis drives the checks the perception node applies to every frame set
(:mod:`cliport_perception.rgbd_msg`) with hundreds of hostile messages: each is refused with a
one-line reason or decodes to frames that fit the camera, and those fuse into a heightmap
within the workspace, without a numpy warning. The camera is the ``fuzz_rig`` fixture's.
"""

from __future__ import annotations

import array
import math

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import CameraInfo

from cliport_perception.camera import CameraModel
from cliport_perception.fusion import Fuser
from cliport_perception.image_conversion import array_to_image
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.rgbd_msg import (
    camera_from_info,
    check_camera_info,
    future_stamp,
    rgbd_frame,
)
from cliport_perception.synthetic import render
from cliport_perception.workspace import Workspace

WS = Workspace(pixel_size=0.05)
FUSER = Fuser(WS, floor_tolerance=0.002)
STAMP = 1_700_000_000 * 10**9
HUGE = [2**31 - 1, 2**32 - 1]


def u32(value: int) -> int:
    """``value`` clamped to what a uint32 message field holds."""
    return min(max(value, 0), 2**32 - 1)


def one_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text and len(text) <= 600, text


def fused_heights_are_sane(frame: RGBDFrame) -> None:
    maps = FUSER.fuse([frame])
    assert maps.heightmap.shape == WS.shape and np.isfinite(maps.heightmap).all()
    assert maps.heightmap.min() >= 0 and maps.heightmap.max() < WS.z_max - WS.z_min


# --------------------------------------------------------------------------- images

COLOR_ENCODINGS = ["rgb8", "bgr8", "8UC3", "rgba8", "bgra8", "mono8", "16UC1", "32FC1", "",
                   "RGB8", "rgb8\x00", "x" * 5000]
DEPTH_ENCODINGS = ["16UC1", "32FC1", "mono16", "16SC1", "32FC3", "64FC1", "8UC1", "mono8",
                   "rgb8", "", "16uc1"]


def padded(image, pad: int) -> None:
    """Rows padded by ``pad`` bytes, with a step that says so (a valid message)."""
    if len(image.data) != image.height * image.step:  # already broken: a wrong step too
        image.step = u32(image.step + pad)
        return
    rows = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.step)
    out = np.full((image.height, image.step + pad), 0xA5, np.uint8)
    out[:, :image.step] = rows
    image.step += pad
    image.data = array.array("B", out.tobytes())


# Each mutation changes the colour or depth image in place and returns True when the pair
# must now be refused, False when it may be accepted (then it must decode to the scene).
def m_encoding(rig, color, depth, data) -> bool:
    if data.draw(st.booleans()):
        color.encoding = data.draw(st.sampled_from(COLOR_ENCODINGS) | st.text(max_size=8))
        return color.encoding not in ("rgb8", "bgr8")  # bgr8: channel order, undetectable
    depth.encoding = data.draw(st.sampled_from(DEPTH_ENCODINGS) | st.text(max_size=8))
    return depth.encoding != "16UC1"


def m_step(rig, color, depth, data) -> bool:
    image = color if data.draw(st.sampled_from(["colour", "depth"])) == "colour" else depth
    kind = data.draw(st.sampled_from(["padded", "short", "odd", "unpadded data", "huge",
                                      "zero"]))
    if kind == "padded":
        padded(image, data.draw(st.integers(1, 9)))
        return False
    image.step = u32({"short": image.step - 1, "odd": image.step + 1, "zero": 0,
                      "unpadded data": image.step + data.draw(st.integers(2, 64)),
                      "huge": data.draw(st.sampled_from(HUGE))}[kind])
    return True


def m_size(rig, color, depth, data) -> bool:
    image = color if data.draw(st.sampled_from(["colour", "depth"])) == "colour" else depth
    field = data.draw(st.sampled_from(["height", "width"]))
    old = getattr(image, field)
    new = u32(data.draw(st.sampled_from([0, 1, old - 1, old + 1, 2 * old, *HUGE])
                        | st.integers(0, 64)))
    setattr(image, field, new)
    if field == "width" and old:  # a consistent step for the new width where there is one
        image.step = u32(new * (image.step // old))
    return new != old


def m_data(rig, color, depth, data) -> bool:
    image = color if data.draw(st.sampled_from(["colour", "depth"])) == "colour" else depth
    cut = data.draw(st.integers(-64, 64).filter(bool) | st.sampled_from([-len(image.data)]))
    raw = bytes(image.data)
    image.data = array.array("B", raw[:cut] if cut < 0 else raw + bytes(cut))
    return True


def m_depth_values(rig, color, depth, data) -> bool:
    """32FC1 depth full of NaN, inf, negative, zero and huge values: missing, not garbage."""
    values = rig.scene.depth.astype(np.float32).reshape(-1) * np.float32(rig.camera.depth_scale)
    bad = data.draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 3e38,
                                              1e-45, 1e6]), min_size=1, max_size=40))
    cells = data.draw(st.lists(st.integers(0, values.size - 1), min_size=len(bad),
                               max_size=len(bad)))
    values[cells] = bad
    new = array_to_image(values.reshape(rig.height, rig.width), "32FC1", header=depth.header)
    depth.encoding, depth.step, depth.data = new.encoding, new.step, new.data
    return False


def m_big_endian(rig, color, depth, data) -> bool:
    (color if data.draw(st.sampled_from(["colour", "depth"])) == "colour" else depth
     ).is_bigendian = 1
    return False  # byte-swapped depths are valid-looking numbers


def m_frame_id(rig, color, depth, data) -> bool:
    image = color if data.draw(st.sampled_from(["colour", "depth"])) == "colour" else depth
    image.header.frame_id = data.draw(st.sampled_from(["", "other_optical_frame", "x" * 1000])
                                      | st.text(max_size=8))
    return image.header.frame_id not in ("", rig.frame)


IMAGE_MUTATIONS = [m_encoding, m_step, m_size, m_data, m_depth_values, m_big_endian,
                   m_frame_id]


def decode(rig, color, depth) -> RGBDFrame | None:
    """The frame the node would fuse, or None when refused (then in one line)."""
    info = rig.info_msg()
    try:
        frame = rgbd_frame(color, depth, info, camera_from_info(info, rig.camera.extrinsic,
                                                                rig.camera.depth_scale), STAMP)
    except ValueError as exc:
        event("refused")
        one_line(str(exc))
        return None
    event("accepted")
    assert frame.color.shape == (rig.height, rig.width, 3)
    assert frame.depth.shape == (rig.height, rig.width)
    fused_heights_are_sane(frame)
    return frame


@pytest.mark.filterwarnings("error")
@settings(max_examples=400)
@given(data=st.data())
def test_a_fuzzed_image_field_is_refused_in_one_line_or_decodes_the_scene(fuzz_rig, data):
    color, depth = fuzz_rig.images()
    mutate = data.draw(st.sampled_from(IMAGE_MUTATIONS))
    must_refuse = mutate(fuzz_rig, color, depth, data)
    frame = decode(fuzz_rig, color, depth)
    if must_refuse:
        assert frame is None, mutate.__name__
    elif frame is not None and mutate in (m_step, m_frame_id):  # padding, an empty frame id
        np.testing.assert_array_equal(frame.color, fuzz_rig.scene.color)
        np.testing.assert_array_equal(frame.depth, fuzz_rig.scene.depth)


@pytest.mark.filterwarnings("error")
@settings(max_examples=200)
@given(data=st.data(), depth_encoding=st.sampled_from(["16UC1", "32FC1"]))
def test_several_fuzzed_image_fields_never_get_through_inconsistent(fuzz_rig, data,
                                                                    depth_encoding):
    color, depth = fuzz_rig.images(depth_encoding)
    for mutate in data.draw(st.lists(st.sampled_from(IMAGE_MUTATIONS), min_size=2,
                                     max_size=4)):
        mutate(fuzz_rig, color, depth, data)
    decode(fuzz_rig, color, depth)


def test_named_bad_pairs(fuzz_rig):
    def case(change, needle):
        color, depth = fuzz_rig.images()
        change(color, depth)
        with pytest.raises(ValueError, match=needle):
            rgbd_frame(color, depth, fuzz_rig.info_msg(), fuzz_rig.camera, STAMP)

    case(lambda c, d: setattr(c, "encoding", "8UC3"), "colour encoding '8UC3'")
    case(lambda c, d: setattr(d, "encoding", "mono16"), "depth encoding 'mono16'")
    case(lambda c, d: setattr(c, "step", c.step + 3), "truncated rgb8")
    case(lambda c, d: setattr(d, "data", array.array("B", bytes(d.data) + b"\0\0")),
         "oversized 16UC1")
    case(lambda c, d: (setattr(c, "height", fuzz_rig.height - 1),), "oversized rgb8")
    case(lambda c, d: setattr(d.header, "frame_id", "other"), "depth image is in frame "
         "'other', its CameraInfo in 'fz_color_optical_frame'")


def test_a_colour_and_depth_of_different_sizes_are_refused(fuzz_rig):
    small = CameraModel.from_pose(fuzz_rig.k, fuzz_rig.width - 4, fuzz_rig.height - 2,
                                  fuzz_rig.position, fuzz_rig.orientation,
                                  frame_id=fuzz_rig.frame)
    other = render(small, [], depth_uint16=True)
    color, _ = fuzz_rig.images()
    depth = array_to_image(other.depth, "16UC1", frame_id=fuzz_rig.frame)
    with pytest.raises(ValueError, match=r"depth must have shape \(12, 16\)"):
        rgbd_frame(color, depth, fuzz_rig.info_msg(), fuzz_rig.camera, STAMP)


def test_bgr8_comes_out_rgb(fuzz_rig):
    color = array_to_image(np.ascontiguousarray(fuzz_rig.scene.color[..., ::-1]), "bgr8",
                           frame_id=fuzz_rig.frame)
    _, depth = fuzz_rig.images()
    decoded = rgbd_frame(color, depth, fuzz_rig.info_msg(), fuzz_rig.camera, STAMP)
    np.testing.assert_array_equal(decoded.color, fuzz_rig.scene.color)


# --------------------------------------------------------------------------- CameraInfo

K_VALUES = [0.0, -24.0, math.nan, math.inf, -math.inf, 1e-300, 5e-324, 1e300, 1.0, 0.5,
            4.0, 12.0, 30.0, 1e-3]
D_MODELS = ["plumb_bob", "rational_polynomial", "equidistant", "", "weird", "PLUMB_BOB"]
D_SIZE = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}


def info_must_be_refused(info: CameraInfo) -> bool:
    """What the node states it refuses of a CameraInfo, to compare its verdict with."""
    k = [float(v) for v in info.k]  # Python floats: an overflowing slope is inf, no warning
    d = [float(v) for v in info.d]
    finite = all(math.isfinite(v) for v in k + d)
    pinhole = k[1] == 0 and k[3] == 0 and k[6:] == [0, 0, 1]
    size = D_SIZE.get(info.distortion_model)
    d_ok = len(d) == size if size is not None else not any(d)
    if not (finite and pinhole and d_ok and k[0] > 0 and k[4] > 0 and info.width > 0
            and info.height > 0):
        return True
    # no pixel 90 degrees or more off the optical axis
    slope = max(max(k[2], info.width - k[2]) / k[0], max(k[5], info.height - k[5]) / k[4])
    return not slope <= 1000


@pytest.mark.filterwarnings("error")
@settings(max_examples=400)
@given(k_changes=st.lists(st.tuples(st.integers(0, 8), st.sampled_from(K_VALUES)),
                          max_size=3),
       d=st.none() | st.lists(st.sampled_from([0.0, 0.01, -0.2, math.nan, math.inf]),
                              max_size=9),
       model=st.sampled_from(D_MODELS) | st.text(max_size=6),
       data=st.data())
def test_fuzzed_camera_info_is_refused_in_one_line_or_fuses(fuzz_rig, k_changes, d, model,
                                                            data):
    w, h = fuzz_rig.width, fuzz_rig.height
    size = data.draw(st.sampled_from([(w, h), (w, h), (0, h), (w, 0), (0, 0), (2**32 - 1, h),
                                      (h, w), (w + 1, h)]), label="size")
    k = list(fuzz_rig.k)
    for index, value in k_changes:
        k[index] = value
    if d is None:  # as many coefficients as the model has, some of them non-zero
        d = [0.01 * i for i in range(D_SIZE.get(model, 0))]
    info = fuzz_rig.info_msg(*size, k=k, d=d, model=model)
    try:
        camera = camera_from_info(info, fuzz_rig.camera.extrinsic, fuzz_rig.camera.depth_scale)
    except ValueError as exc:
        event("refused")
        one_line(str(exc))
        assert info_must_be_refused(info)
        return
    event("accepted")
    assert not info_must_be_refused(info)
    assert camera.fx > 0 and camera.fy > 0 and math.isfinite(camera.cx + camera.cy)
    color, depth = fuzz_rig.images()
    try:
        frame = rgbd_frame(color, depth, info, camera, STAMP)
    except ValueError as exc:  # the images are 16 x 12: any other CameraInfo size
        one_line(str(exc))
        assert size != (w, h)
        return
    fused_heights_are_sane(frame)


@pytest.mark.parametrize("change, needle", [
    ({"k": [0.0] * 9}, "not a pinhole matrix"),
    ({"k": [math.nan, 0, 8, 0, 24, 6, 0, 0, 1]}, "k is not finite"),
    ({"k": [24, 0.5, 8, 0, 24, 6, 0, 0, 1]}, "not a pinhole matrix"),
    ({"k": [24, 0, 8, 0, 24, 6, 0, 0, 2]}, "not a pinhole matrix"),
    ({"k": [0, 0, 8, 0, 24, 6, 0, 0, 1]}, "focal lengths must be positive"),
    ({"d": [0.0] * 3}, "d has 3 coefficients; plumb_bob has 5"),
    ({"d": [0.1] * 5, "model": "fisheye_x"}, "unknown distortion model 'fisheye_x'"),
    ({"d": [0.0, math.nan, 0, 0, 0]}, "d is not finite"),
    ({"width": 0}, "image size must be positive"),
])
def test_named_bad_camera_info(fuzz_rig, change, needle):
    with pytest.raises(ValueError, match=needle):
        camera_from_info(fuzz_rig.info_msg(**change), fuzz_rig.camera.extrinsic,
                         fuzz_rig.camera.depth_scale)


def test_usual_camera_infos_pass(fuzz_rig):
    for d, model in (([], ""), ([0.0] * 5, ""), ([0.1, -0.05, 0, 0, 0.01], "plumb_bob"),
                     ([0.0] * 8, "rational_polynomial"), ([0.0] * 4, "equidistant")):
        check_camera_info(fuzz_rig.info_msg(d=d, model=model))


def test_a_camera_info_that_keeps_changing_does_not_grow_the_fusion(fuzz_rig):
    """Each new K is a new camera model; the fusion keeps the latest one per optical frame."""
    import tracemalloc

    fuser = Fuser(WS)

    def fuse(i: int) -> None:
        k = (240.0 + i, 0.0, 80.0, 0.0, 240.0 + i, 60.0, 0.0, 0.0, 1.0)
        camera = CameraModel.from_pose(k, 160, 120, fuzz_rig.position, fuzz_rig.orientation,
                                       frame_id=fuzz_rig.frame)
        fuser.fuse([render(camera, [], depth_uint16=True)])

    fuse(0)
    tracemalloc.start()
    try:
        fuse(1)
        one = tracemalloc.get_traced_memory()[0]
        for i in range(2, 22):
            fuse(i)
        twenty = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert twenty < 2 * one, (one, twenty)


def test_future_stamps():
    assert future_stamp(STAMP + 10**8, STAMP, 0.5) is None
    assert future_stamp(STAMP - 3600 * 10**9, STAMP, 0.5) is None  # old: stale, not refused
    assert future_stamp(STAMP + 3600 * 10**9, STAMP, 0.5) == (
        "stamped 3600.00 s in the future (do the clocks agree?)")
