"""Numpy <-> ``sensor_msgs/Image`` conversion without cv_bridge.

Why: the PyPI ``cv_bridge`` wheel is built against numpy 1.x and breaks with numpy 2, and the
few encodings CLIPort needs (colour, mono, depth in millimetres or metres) convert with numpy
alone. Decoding is one strided view and one copy (big-endian payloads byte-swapped on the
way); encoding hands ``Image.data`` an ``array.array('B')`` filled by one memcpy, the one
sequence the checked setter (``ROS_PYTHON_CHECK_FIELDS=1``) takes without a per-element
Python check (docs/notes/image-conversion.md). Imports only message packages, never
``rclpy``, so processes without a ROS node can use it.
"""

from __future__ import annotations

import array as pyarray
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

__all__ = [
    "ENCODINGS",
    "ImageConversionError",
    "ImageLike",
    "array_to_image",
    "image_to_array",
]

#: Supported ``sensor_msgs/Image`` encodings -> (element dtype, channels).  The dtype is given
#: without byte order; the wire byte order comes from ``is_bigendian``.  Read-only so that no
#: caller can silently widen what the converters claim to support.
ENCODINGS: Mapping[str, tuple[np.dtype[Any], int]] = MappingProxyType(
    {
        "rgb8": (np.dtype(np.uint8), 3),
        "bgr8": (np.dtype(np.uint8), 3),
        "mono8": (np.dtype(np.uint8), 1),
        "16UC1": (np.dtype(np.uint16), 1),
        "32FC1": (np.dtype(np.float32), 1),
    }
)


MAX_SHOWN = 40  # characters of an unknown encoding's repr quoted in an error


class ImageConversionError(ValueError):
    """Raised when an image message or array cannot be converted.

    A ``ValueError`` subclass so callers that already guard against bad input with
    ``except ValueError`` keep working, while callers that care can catch exactly this.
    """


class ImageLike(Protocol):
    """The fields of ``sensor_msgs/Image`` that decoding reads.

    Structural so that tests, recorded bags and fake messages can be decoded without
    constructing real ROS messages.
    """

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any


def _lookup(encoding: str) -> tuple[np.dtype[Any], int]:
    """Return (dtype, channels) for ``encoding`` or raise with the supported list."""
    try:
        return ENCODINGS[encoding]
    except (KeyError, TypeError):
        supported = ", ".join(ENCODINGS)
        shown = repr(encoding)
        if len(shown) > MAX_SHOWN:  # a garbage encoding must not flood the log
            shown = f"{shown[:MAX_SHOWN]}..."
        raise ImageConversionError(
            f"unsupported image encoding {shown}; supported encodings: {supported}"
        ) from None


def _shape(height: int, width: int, channels: int) -> tuple[int, ...]:
    """Array shape for an image: HxW for single-channel encodings, HxWxC otherwise."""
    return (height, width) if channels == 1 else (height, width, channels)


def _as_uint8_buffer(data: Any) -> np.ndarray:
    """View ``data`` as a flat uint8 array without copying when it exposes a buffer.

    ``Image.data`` is an ``array.array('B')`` on real messages, but duck-typed inputs may hold
    ``bytes``, ``bytearray``, ``memoryview`` or a plain list of ints.
    """
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageConversionError(
                f"image data of type {type(data).__name__} is not a byte buffer or a sequence "
                f"of ints in [0, 255]: {exc}"
            ) from exc


def image_to_array(msg: ImageLike, *, exact: bool = False) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` (or anything shaped like one) into a numpy array.

    Returns HxWx3 uint8 for ``rgb8``/``bgr8`` (channel order is left as encoded), HxW uint8 for
    ``mono8``, HxW uint16 for ``16UC1`` and HxW float32 for ``32FC1``.  The result is always a
    fresh C-contiguous array in native byte order that owns its memory, so callers may modify
    it or keep it after the message is reused.

    Row padding is honoured: only the first ``width * bytes_per_pixel`` bytes of each ``step``
    byte row are used.  Data longer than ``step * height`` is tolerated (trailing bytes are
    ignored, as cv_bridge does); shorter data is an error.  ``exact=True`` refuses longer data
    too, as nodes do: ``sensor_msgs/Image`` defines ``data`` as ``step * height`` bytes, and
    rows padded without a matching ``step`` would otherwise decode as a sheared image.
    Zero-sized images decode to an empty array of the right dtype and shape.

    Raises:
        ImageConversionError: unknown encoding, ``step`` smaller than a row, truncated data
            (with ``exact``: any other length than ``step * height``), or data that is not a
            byte sequence.
    """
    encoding = msg.encoding
    dtype, channels = _lookup(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height < 0 or width < 0 or step < 0:
        raise ImageConversionError(
            f"image dimensions must be non-negative, got height={height} width={width} step={step}"
        )
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than one {encoding} row of width {width} ({row_bytes} bytes)"
        )

    buf = _as_uint8_buffer(msg.data)
    needed = step * height
    if buf.size < needed or (exact and buf.size != needed):
        what = "truncated" if buf.size < needed else "oversized"
        raise ImageConversionError(
            f"{what} {encoding} image data: expected step*height = {step}*{height} = "
            f"{needed} bytes, got {buf.size}"
        )

    wire_dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    out = np.empty(_shape(height, width, channels), dtype=dtype)
    if out.size == 0:
        return out
    # Strided view of the unpadded part of each row; reinterpreting the bytes is legal because
    # the last axis stays contiguous.  Assigning into ``out`` is the single copy and converts
    # the wire byte order to native in the same pass.
    rows = buf[:needed].reshape(height, step)[:, :row_bytes]
    out[...] = rows.view(wire_dtype).reshape(out.shape)
    return out


def _check_array(array: np.ndarray, encoding: str) -> tuple[np.ndarray, int]:
    """Validate ``array`` for ``encoding``; return it as C-contiguous little-endian + channels.

    Dtype must match exactly (up to byte order): silently casting float64 depth to float32 or
    int32 to uint16 would hide bugs upstream, so it is rejected instead.
    """
    dtype, channels = _lookup(encoding)
    if not isinstance(array, np.ndarray):
        raise ImageConversionError(
            f"expected a numpy.ndarray for encoding {encoding!r}, got {type(array).__name__}"
        )
    if array.dtype.kind != dtype.kind or array.dtype.itemsize != dtype.itemsize:
        raise ImageConversionError(
            f"encoding {encoding!r} requires dtype {dtype.name}, got {array.dtype.name}; "
            f"convert explicitly (e.g. array.astype(np.{dtype.name}))"
        )
    ok_shape = (array.ndim == 3 and array.shape[2] == channels) or (
        channels == 1 and array.ndim == 2
    )
    if not ok_shape:
        expected = "(H, W, 3)" if channels == 3 else "(H, W) or (H, W, 1)"
        raise ImageConversionError(
            f"encoding {encoding!r} requires an array of shape {expected}, got {array.shape}"
        )
    # No-op (no copy) for the common case of a contiguous native little-endian array.
    return np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")), channels


def array_to_image(
    array: np.ndarray,
    encoding: str,
    *,
    header: Header | None = None,
    frame_id: str = "",
    stamp: Time | None = None,
) -> Image:
    """Encode a numpy array as a ``sensor_msgs/Image``.

    The array's dtype and shape must match ``encoding`` (see ``ENCODINGS``); single-channel
    encodings accept HxW or HxWx1.  Non-contiguous or big-endian arrays are accepted and
    copied.  The message is always little-endian (``is_bigendian = 0``), which is native on
    the x86 and ARM machines the stack runs on, with unpadded rows (``step = width * bpp``).

    Either pass a complete ``header`` or build one from ``frame_id`` and ``stamp``, not both,
    so it is never ambiguous which value ends up on the wire.

    Raises:
        ImageConversionError: unknown encoding, wrong dtype or shape, or conflicting header
            arguments.
    """
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    data, channels = _check_array(array, encoding)
    if header is not None and (frame_id or stamp is not None):
        raise ImageConversionError("pass either header or frame_id/stamp, not both")
    if header is None:
        header = Header(frame_id=frame_id)
        if stamp is not None:
            header.stamp = stamp

    height, width = int(data.shape[0]), int(data.shape[1])
    msg = Image()
    msg.header = header
    msg.height = height
    msg.width = width
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = width * channels * data.dtype.itemsize
    # See module docstring: array.array('B') skips per-element field checks, and frombytes on a
    # flat uint8 view is a single memcpy.
    payload = pyarray.array("B")
    payload.frombytes(data.reshape(-1).view(np.uint8))
    msg.data = payload
    return msg
