"""SE(3) helpers on 4x4 matrices (numpy + scipy; xyzw quaternions, ROS order)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def make(rotation: np.ndarray, translation) -> np.ndarray:
    """4x4 from a 3x3 rotation (or a Rodrigues 3-vector) and a translation."""
    R = np.asarray(rotation, dtype=np.float64)
    if R.shape in ((3,), (3, 1), (1, 3)):
        R = Rotation.from_rotvec(R.reshape(3)).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return T


def from_pose(translation, rotation_xyzw) -> np.ndarray:
    return make(Rotation.from_quat(np.asarray(rotation_xyzw, dtype=np.float64)).as_matrix(),
                translation)


def to_pose(T: np.ndarray) -> tuple[list[float], list[float]]:
    """(translation, rotation xyzw) with w >= 0, as plain floats."""
    q = Rotation.from_matrix(T[:3, :3]).as_quat()
    if q[3] < 0:
        q = -q
    return [float(v) for v in T[:3, 3]], [float(v) for v in q]


def invert(T: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = T[:3, :3].T
    out[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return out


def rotation_angle(R: np.ndarray) -> float:
    """Angle (radians) of a rotation matrix."""
    return float(np.arccos(np.clip((np.trace(R[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)))


def difference(A: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """(translation distance in m, rotation angle in rad) between two poses."""
    return (float(np.linalg.norm(A[:3, 3] - B[:3, 3])),
            rotation_angle(A[:3, :3].T @ B[:3, :3]))


def mean_pose(poses: list[np.ndarray]) -> np.ndarray:
    """Chordal mean of rotations and arithmetic mean of translations."""
    if not poses:
        raise ValueError("mean of no poses")
    R = Rotation.from_matrix(np.stack([T[:3, :3] for T in poses])).mean().as_matrix()
    return make(R, np.mean([T[:3, 3] for T in poses], axis=0))
