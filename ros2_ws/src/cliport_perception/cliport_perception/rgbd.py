"""``RGBDFrame``: the one RGB-D frame type of every camera source (ROS, pyrealsense2, sim)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cliport_perception.camera import CameraModel

MM = 0.001  # metres per unit of a millimetre depth image (RealSense's 16UC1)
UINT16_MAX = 65535


class FrameError(ValueError):
    """An RGB-D frame whose images do not fit each other or the camera model."""


@dataclass(frozen=True, eq=False)
class RGBDFrame:
    """Colour (HxWx3 uint8 RGB) and aligned depth (HxW) from one camera.

    Depth is uint16 in ``camera.depth_scale`` units (RealSense: millimetres, 0 = no
    reading) or float32/float64 metres. Zero, negative, NaN and inf depths are *missing*.
    """

    color: np.ndarray
    depth: np.ndarray
    camera: CameraModel
    stamp_ns: int = 0

    def __post_init__(self) -> None:
        cam = self.camera
        size = (cam.height, cam.width)
        if self.color.dtype != np.uint8 or self.color.shape != size + (3,):
            raise FrameError(f"color must be uint8 of shape {size + (3,)} (the camera's "
                             f"{cam.width}x{cam.height}), got {self.color.dtype} "
                             f"{self.color.shape}")
        if self.depth.shape != size:
            raise FrameError(f"depth must have shape {size} (the camera's "
                             f"{cam.width}x{cam.height}), got {self.depth.shape}")
        if self.depth.dtype not in (np.uint16, np.float32, np.float64):
            raise FrameError(f"depth must be uint16 ({cam.depth_scale} m units) or float "
                             f"metres, got {self.depth.dtype}")

    def depth_metres(self) -> tuple[np.ndarray, np.ndarray]:
        """(depth in metres as float32 with missing set to 0, mask of valid pixels)."""
        if self.depth.dtype == np.uint16:
            valid = self.depth > 0
            return self.depth.astype(np.float32) * np.float32(self.camera.depth_scale), valid
        d = self.depth.astype(np.float32, copy=False)
        valid = np.isfinite(d) & (d > 0)
        return np.where(valid, d, np.float32(0.0)), valid


def depth_to_uint16(depth: np.ndarray, depth_scale: float = MM) -> np.ndarray:
    """Depth in metres -> a uint16 depth image in ``depth_scale`` units (millimetres by default).

    The rule: round to the nearest unit; NaN, +-inf, anything that rounds to 0 or below and
    anything above 65535 units becomes 0, *no reading*. Why 0 and not the nearest value: a
    clipped 65535 would read back as a real, far surface (``RGBDFrame.depth_metres`` treats 0
    as missing, as a RealSense does).
    """
    d = np.asarray(depth, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.rint(d / depth_scale)
        keep = np.isfinite(units) & (units > 0) & (units <= UINT16_MAX)
    return np.where(keep, units, 0.0).astype(np.uint16)
