"""Tests for the numpy replacement of cv_bridge.

Field checking is forced on before any message module is imported so the tests also prove that
``array_to_image`` assigns ``data`` in a form the checked setter accepts (and accepts fast).
"""

from __future__ import annotations

import os

os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")

import array as pyarray
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from cliport_perception.image_conversion import (
    ENCODINGS,
    ImageConversionError,
    array_to_image,
    image_to_array,
)


@dataclass
class FakeImage:
    """Duck-typed stand-in for sensor_msgs/Image, for inputs the real message cannot hold."""

    height: int
    width: int
    encoding: str
    step: int
    data: Any
    is_bigendian: int = 0


def random_array(encoding: str, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random image covering the full value range of the encoding's dtype."""
    rng = np.random.default_rng(seed)
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)


def assert_owned_native_contiguous(arr: np.ndarray) -> None:
    assert arr.flags.c_contiguous
    assert arr.flags.owndata
    assert arr.dtype.isnative


def test_check_fields_is_active() -> None:
    """Guard: the fast-path tests are only meaningful with field checks on."""
    if os.environ.get("ROS_PYTHON_CHECK_FIELDS") != "1":
        pytest.skip("ROS_PYTHON_CHECK_FIELDS explicitly disabled in the environment")
    assert Image()._check_fields


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("size", [(480, 640), (1, 1), (7, 13), (33, 3), (0, 0), (0, 5), (4, 0)])
def test_round_trip_exact(encoding: str, size: tuple[int, int]) -> None:
    arr = random_array(encoding, *size, seed=size[0] * 1000 + size[1])
    msg = array_to_image(arr, encoding, frame_id="cam")
    dtype, channels = ENCODINGS[encoding]
    assert isinstance(msg, Image)
    assert (msg.height, msg.width) == size
    assert msg.encoding == encoding
    assert msg.is_bigendian == 0
    assert msg.step == size[1] * channels * dtype.itemsize
    assert len(msg.data) == msg.step * msg.height
    assert msg.header.frame_id == "cam"

    out = image_to_array(msg)
    assert out.dtype == dtype
    assert out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert_owned_native_contiguous(out)


def test_round_trip_preserves_nan_and_inf_bits() -> None:
    arr = np.array([[np.nan, np.inf], [-np.inf, -0.0]], dtype=np.float32)
    out = image_to_array(array_to_image(arr, "32FC1"))
    assert out.tobytes() == arr.tobytes()


def test_decoded_array_does_not_alias_message() -> None:
    arr = random_array("mono8", 4, 5)
    msg = array_to_image(arr, "mono8")
    out = image_to_array(msg)
    out[:] = 0
    np.testing.assert_array_equal(image_to_array(msg), arr)


def test_encode_copies_input() -> None:
    arr = random_array("16UC1", 3, 4)
    msg = array_to_image(arr, "16UC1")
    arr[:] = 0
    assert image_to_array(msg).any()


def test_encode_accepts_non_contiguous_and_single_channel_3d() -> None:
    base = random_array("rgb8", 10, 20)
    view = base[::2, ::3]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(image_to_array(array_to_image(view, "rgb8")), view)

    depth = random_array("32FC1", 6, 7)
    out = image_to_array(array_to_image(depth[..., None], "32FC1"))
    np.testing.assert_array_equal(out, depth)


def test_encode_big_endian_input_is_written_little_endian() -> None:
    depth = random_array("16UC1", 5, 6)
    msg = array_to_image(depth.astype(">u2"), "16UC1")
    assert msg.is_bigendian == 0
    assert bytes(msg.data) == depth.astype("<u2").tobytes()


def test_bgr8_channel_order_is_kept() -> None:
    arr = np.zeros((1, 1, 3), dtype=np.uint8)
    arr[0, 0] = (10, 20, 30)
    msg = array_to_image(arr, "bgr8")
    assert list(msg.data) == [10, 20, 30]
    np.testing.assert_array_equal(image_to_array(msg)[0, 0], [10, 20, 30])


def test_header_arguments() -> None:
    stamp = Time(sec=12, nanosec=34)
    msg = array_to_image(random_array("mono8", 2, 2), "mono8", frame_id="f", stamp=stamp)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 34)
    assert msg.header.frame_id == "f"

    header = Header(frame_id="given", stamp=Time(sec=5))
    msg = array_to_image(random_array("mono8", 2, 2), "mono8", header=header)
    assert msg.header.frame_id == "given"
    assert msg.header.stamp.sec == 5

    with pytest.raises(ImageConversionError, match="not both"):
        array_to_image(random_array("mono8", 2, 2), "mono8", header=header, frame_id="x")


def test_encode_data_is_uint8_array() -> None:
    """The fast path relies on the message holding an array.array('B')."""
    msg = array_to_image(random_array("rgb8", 480, 640), "rgb8")
    assert isinstance(msg.data, pyarray.array)
    assert msg.data.typecode == "B"



# --- decoding of messages produced elsewhere -------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("pad", [1, 3, 64])
def test_padded_step_decode(encoding: str, pad: int) -> None:
    arr = random_array(encoding, 9, 11, seed=pad)
    row_bytes = arr.nbytes // arr.shape[0]
    step = row_bytes + pad
    padded = np.full((arr.shape[0], step), 0xAB, dtype=np.uint8)
    padded[:, :row_bytes] = arr.reshape(arr.shape[0], -1).view(np.uint8)

    msg = Image(
        height=arr.shape[0],
        width=arr.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=step,
    )
    msg.data = pyarray.array("B", padded.tobytes())
    out = image_to_array(msg)
    np.testing.assert_array_equal(out, arr)
    assert_owned_native_contiguous(out)


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
@pytest.mark.parametrize("pad", [0, 2])
def test_big_endian_decode(encoding: str, pad: int) -> None:
    arr = random_array(encoding, 5, 8, seed=3)
    big = arr.astype(arr.dtype.newbyteorder(">"))
    row_bytes = arr.nbytes // arr.shape[0]
    rows = np.zeros((arr.shape[0], row_bytes + pad), dtype=np.uint8)
    rows[:, :row_bytes] = big.reshape(arr.shape[0], -1).view(np.uint8)
    msg = FakeImage(
        height=5,
        width=8,
        encoding=encoding,
        step=row_bytes + pad,
        data=rows.tobytes(),
        is_bigendian=1,
    )
    out = image_to_array(msg)
    np.testing.assert_array_equal(out, arr)
    assert_owned_native_contiguous(out)


def test_big_endian_flag_irrelevant_for_bytes() -> None:
    arr = random_array("rgb8", 3, 4)
    msg = FakeImage(3, 4, "rgb8", 12, arr.tobytes(), is_bigendian=1)
    np.testing.assert_array_equal(image_to_array(msg), arr)


@pytest.mark.parametrize(
    "data",
    [
        lambda b: b,
        bytearray,
        memoryview,
        lambda b: pyarray.array("B", b),
        list,
    ],
)
def test_decode_accepts_common_data_containers(data: Any) -> None:
    arr = random_array("16UC1", 3, 4)
    msg = FakeImage(3, 4, "16UC1", 8, data(arr.tobytes()))
    np.testing.assert_array_equal(image_to_array(msg), arr)


def test_decode_ignores_trailing_bytes() -> None:
    arr = random_array("mono8", 2, 3)
    msg = FakeImage(2, 3, "mono8", 3, arr.tobytes() + b"\x00\x01")
    np.testing.assert_array_equal(image_to_array(msg), arr)


def test_decode_zero_sized_with_empty_data() -> None:
    out = image_to_array(FakeImage(0, 0, "rgb8", 0, b""))
    assert out.shape == (0, 0, 3)
    assert out.dtype == np.uint8
    out = image_to_array(FakeImage(3, 0, "32FC1", 0, b""))
    assert out.shape == (3, 0)
    assert out.dtype == np.float32


# --- rejection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_reject_step_smaller_than_row(encoding: str) -> None:
    arr = random_array(encoding, 4, 6)
    row_bytes = arr.nbytes // 4
    msg = FakeImage(4, 6, encoding, row_bytes - 1, arr.tobytes())
    with pytest.raises(ImageConversionError, match=rf"step {row_bytes - 1} is smaller"):
        image_to_array(msg)


def test_reject_truncated_data() -> None:
    msg = array_to_image(random_array("32FC1", 10, 10), "32FC1")
    msg.data = pyarray.array("B", bytes(msg.data)[:-1])
    with pytest.raises(ImageConversionError, match=r"expected .* 400 bytes, got 399"):
        image_to_array(msg)


def test_reject_unknown_encoding_on_decode() -> None:
    msg = FakeImage(1, 1, "yuv422", 2, b"\x00\x00")
    with pytest.raises(ImageConversionError, match=r"'yuv422'.*rgb8.*32FC1"):
        image_to_array(msg)


def test_reject_unknown_encoding_on_encode() -> None:
    with pytest.raises(ImageConversionError, match="unsupported image encoding 'RGB8'"):
        array_to_image(random_array("rgb8", 2, 2), "RGB8")


def test_reject_negative_dims_on_fake_message() -> None:
    with pytest.raises(ImageConversionError, match="non-negative"):
        image_to_array(FakeImage(-1, 2, "mono8", 2, b""))


def test_reject_non_byte_data() -> None:
    with pytest.raises(ImageConversionError, match="not a byte buffer"):
        image_to_array(FakeImage(1, 2, "mono8", 2, ["a", "b"]))
    with pytest.raises(ImageConversionError, match="not a byte buffer"):
        image_to_array(FakeImage(1, 2, "mono8", 2, [1, 300]))


def test_image_conversion_error_is_value_error() -> None:
    assert issubclass(ImageConversionError, ValueError)


@pytest.mark.parametrize(
    ("encoding", "bad"),
    [
        ("32FC1", np.zeros((4, 4), dtype=np.float64)),
        ("32FC1", np.zeros((4, 4), dtype=np.int32)),
        ("16UC1", np.zeros((4, 4), dtype=np.int16)),
        ("16UC1", np.zeros((4, 4), dtype=np.uint32)),
        ("mono8", np.zeros((4, 4), dtype=np.int8)),
        ("rgb8", np.zeros((4, 4, 3), dtype=np.float32)),
        ("rgb8", np.zeros((4, 4, 3), dtype=bool)),
    ],
)
def test_reject_wrong_dtype(encoding: str, bad: np.ndarray) -> None:
    with pytest.raises(ImageConversionError, match=f"requires dtype .*got {bad.dtype.name}"):
        array_to_image(bad, encoding)


@pytest.mark.parametrize(
    ("encoding", "shape"),
    [
        ("rgb8", (4, 4)),
        ("rgb8", (4, 4, 1)),
        ("bgr8", (4, 4, 4)),
        ("mono8", (4, 4, 3)),
        ("16UC1", (16,)),
        ("32FC1", (2, 4, 4)),
        ("32FC1", (1, 2, 2, 1)),
    ],
)
def test_reject_wrong_shape(encoding: str, shape: tuple[int, ...]) -> None:
    dtype, _ = ENCODINGS[encoding]
    with pytest.raises(ImageConversionError, match="requires an array of shape"):
        array_to_image(np.zeros(shape, dtype=dtype), encoding)


def test_reject_non_ndarray() -> None:
    with pytest.raises(ImageConversionError, match=r"numpy\.ndarray"):
        array_to_image([[0, 1], [2, 3]], "mono8")  # type: ignore[arg-type]


# --- property ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    encoding=st.sampled_from(sorted(ENCODINGS)),
    height=st.integers(0, 40),
    width=st.integers(0, 40),
    pad=st.integers(0, 9),
    big_endian=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(
    encoding: str, height: int, width: int, pad: int, big_endian: bool, seed: int
) -> None:
    arr = random_array(encoding, height, width, seed=seed)
    msg = array_to_image(arr, encoding)
    np.testing.assert_array_equal(image_to_array(msg), arr)

    # The same pixels as another publisher might lay them out: padded rows, either byte order.
    wire = arr.astype(arr.dtype.newbyteorder(">" if big_endian else "<"))
    dtype, channels = ENCODINGS[encoding]
    row_bytes = width * channels * dtype.itemsize
    rows = np.zeros((height, row_bytes + pad), dtype=np.uint8)
    if arr.size:
        rows[:, :row_bytes] = wire.reshape(height, -1).view(np.uint8)
    fake = FakeImage(height, width, encoding, row_bytes + pad, rows.tobytes(), int(big_endian))
    out = image_to_array(fake)
    assert out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert_owned_native_contiguous(out)
