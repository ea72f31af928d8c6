"""``sensor_msgs/Image`` colour + aligned depth + ``CameraInfo`` -> :class:`RGBDFrame`, checked.

What a camera topic may carry that the fusion must never see: an encoding it cannot read or
one that disagrees with the data, data of another length than ``step * height``, images
whose size is not the CameraInfo's, a K that is not a pinhole matrix (zero, NaN, skewed,
a last row other than ``[0, 0, 1]``), distortion coefficients that are not finite or do not
fit their model, and stamps far ahead of the clock (one such frame would hold back every
later one as out of order). Each check raises ``ValueError`` with a one-line reason; the
ROS source turns it into a refused frame and keeps serving. No rclpy here, so everything is
testable on plain messages.
"""

from __future__ import annotations

import numpy as np

from cliport_perception.camera import CameraModel
from cliport_perception.image_conversion import image_to_array
from cliport_perception.rgbd import RGBDFrame

DEPTH_ENCODINGS = ("16UC1", "32FC1")
COLOR_ENCODINGS = ("rgb8", "bgr8")
# Coefficients of the CameraInfo distortion models ROS names (sensor_msgs/distortion_models);
# the fusion assumes rectified (aligned) images, so the values are checked, not applied.
DISTORTION_SIZES = {"plumb_bob": (5,), "rational_polynomial": (8,), "equidistant": (4,)}
SHOWN = 40  # characters of a field echoed in a reason


def _shown(text: str) -> str:
    text = str(text)
    return repr(text if len(text) <= SHOWN else f"{text[:SHOWN]}...")


def future_stamp(stamp: int, now_ns: int, max_ahead_s: float) -> str | None:
    """Why a frame stamped ``stamp`` (ns) is refused on arrival at ``now_ns``, or None."""
    ahead = (stamp - now_ns) * 1e-9
    if ahead > max_ahead_s:
        return f"stamped {ahead:.2f} s in the future (do the clocks agree?)"
    return None


def check_camera_info(info) -> None:
    """ValueError unless ``info`` is a pinhole CameraInfo the fusion can use as it is."""
    k = np.asarray(info.k, dtype=np.float64)
    if k.size != 9:
        raise ValueError(f"CameraInfo k has {k.size} values, not 9")
    if not np.isfinite(k).all():
        raise ValueError(f"CameraInfo k is not finite: {k.tolist()}")
    if k[1] != 0 or k[3] != 0 or (k[6], k[7], k[8]) != (0, 0, 1):
        raise ValueError(f"CameraInfo k is not a pinhole matrix [fx 0 cx; 0 fy cy; 0 0 1]: "
                         f"{k.tolist()}")
    d = np.asarray(info.d, dtype=np.float64).reshape(-1)
    if not np.isfinite(d).all():
        raise ValueError(f"CameraInfo d is not finite: {d.tolist()}")
    model = info.distortion_model
    sizes = DISTORTION_SIZES.get(model)
    if sizes is not None and d.size not in sizes:
        raise ValueError(f"CameraInfo d has {d.size} coefficients; {model} has {sizes[0]}")
    if sizes is None and d.any():
        raise ValueError(f"CameraInfo d has coefficients of an unknown distortion model "
                         f"{_shown(model)}")


def camera_from_info(info, extrinsic, depth_scale: float) -> CameraModel:
    """The camera model of a checked CameraInfo (ValueError with the reason otherwise)."""
    check_camera_info(info)
    return CameraModel.from_intrinsics_matrix(info.k, info.width, info.height, extrinsic,
                                              depth_scale, info.header.frame_id)


def _frame_ids(color, depth, info) -> None:
    want = info.header.frame_id
    for what, msg in (("colour", color), ("depth", depth)):
        got = msg.header.frame_id
        if got and got != want:
            raise ValueError(f"{what} image is in frame {_shown(got)}, its CameraInfo in "
                             f"{_shown(want)}")


def rgbd_frame(color, depth, info, camera: CameraModel, stamp: int) -> RGBDFrame:
    """Decode one colour / aligned-depth pair with ``camera`` (``camera_from_info(info)``).

    Colour comes out RGB whatever its encoding; depth as published (uint16 units of
    ``camera.depth_scale``, or float32 metres). ValueError names the first problem.
    """
    if depth.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding {_shown(depth.encoding)} (want "
                         f"{'/'.join(DEPTH_ENCODINGS)})")
    if color.encoding not in COLOR_ENCODINGS:
        raise ValueError(f"colour encoding {_shown(color.encoding)} (want "
                         f"{'/'.join(COLOR_ENCODINGS)})")
    _frame_ids(color, depth, info)
    depth_array = image_to_array(depth, exact=True)
    color_array = image_to_array(color, exact=True)
    if color.encoding == "bgr8":
        color_array = color_array[..., ::-1]
    return RGBDFrame(np.ascontiguousarray(color_array), depth_array, camera, stamp)

