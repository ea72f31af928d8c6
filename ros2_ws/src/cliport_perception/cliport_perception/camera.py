"""Pinhole camera model: intrinsics, depth units and the optical-frame -> base extrinsic.

Optical frame convention (REP-103 camera optical frames): x right, y down, z forward.
Construction validates everything that would otherwise produce a silently wrong map:
non-positive sizes or focal lengths, pixels at 90 degrees or more off the optical axis, and
extrinsics that are non-finite or not rigid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cliport_perception.calibration import pose_matrix

# |pixel - principal point| / focal length at the image edge: tan(89.94 degrees). A pinhole
# image is narrower than 180 degrees; beyond this the rays overflow the fusion's arithmetic.
MAX_RAY_SLOPE = 1000.0


class CameraError(ValueError):
    """A camera model that cannot be right."""


@dataclass(frozen=True, eq=False)
class CameraModel:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    extrinsic: np.ndarray = field(default_factory=lambda: np.eye(4))  # optical -> base, 4x4
    depth_scale: float = 0.001  # metres per unit of uint16 depth images
    frame_id: str = ""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise CameraError(f"image size must be positive, got {self.width}x{self.height}")
        for name in ("fx", "fy", "cx", "cy", "depth_scale"):
            if not math.isfinite(getattr(self, name)):
                raise CameraError(f"{name} must be finite, got {getattr(self, name)}")
        if self.fx <= 0 or self.fy <= 0:
            raise CameraError(f"focal lengths must be positive, got fx={self.fx} fy={self.fy}")
        if self.depth_scale <= 0:
            raise CameraError(f"depth_scale must be positive, got {self.depth_scale}")
        slope = max(max(self.cx, self.width - self.cx) / self.fx,
                    max(self.cy, self.height - self.cy) / self.fy)
        if not abs(slope) <= MAX_RAY_SLOPE:  # also NaN / inf: overflowing rays
            raise CameraError(f"intrinsics put pixels {slope:.3g} focal lengths off the optical "
                              f"axis (at most {MAX_RAY_SLOPE:g}: a pinhole sees < 180 degrees)")
        T = np.asarray(self.extrinsic, dtype=np.float64)
        if T.shape != (4, 4):
            raise CameraError(f"extrinsic must be 4x4, got shape {T.shape}")
        if not np.all(np.isfinite(T)):
            raise CameraError("extrinsic has non-finite values")
        R = T[:3, :3]
        if (not np.allclose(T[3], [0, 0, 0, 1], atol=1e-9)
                or not np.allclose(R @ R.T, np.eye(3), atol=1e-4)
                or abs(np.linalg.det(R) - 1.0) > 1e-4):
            raise CameraError("extrinsic is not a rigid transform (rotation must be orthonormal "
                              "with determinant +1, last row [0, 0, 0, 1])")
        object.__setattr__(self, "extrinsic", T)

    @classmethod
    def from_intrinsics_matrix(cls, K, width: int, height: int, extrinsic=None,
                               depth_scale: float = 0.001, frame_id: str = "") -> CameraModel:
        """From a 3x3 K or CameraInfo's row-major ``k`` (9 values)."""
        K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        return cls(int(width), int(height), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]),
                   float(K[1, 2]), np.eye(4) if extrinsic is None else extrinsic,
                   depth_scale, frame_id)

    @classmethod
    def from_pose(cls, K, width: int, height: int, position, orientation_xyzw,
                  depth_scale: float = 0.001, frame_id: str = "") -> CameraModel:
        """From a camera position and xyzw quaternion (the reference / PyBullet convention)."""
        return cls.from_intrinsics_matrix(K, width, height,
                                          pose_matrix(position, orientation_xyzw),
                                          depth_scale, frame_id)

    def world_rays(self) -> np.ndarray:
        """HxWx3 float64: for each pixel, the base-frame displacement per metre of depth."""
        u = (np.arange(self.width) - self.cx) / self.fx
        v = (np.arange(self.height) - self.cy) / self.fy
        rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], 1.0), axis=-1)
        return rays @ self.extrinsic[:3, :3].T
