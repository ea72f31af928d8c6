"""Plain-numpy SE(3)/SE(2) helpers in the PyBullet convention.

A pose is ``(xyz, quat)`` with ``quat`` in **xyzw** order (PyBullet's), both tuples of
floats (:mod:`cliport_common.poses`, with quaternion <-> yaw). Everything here is pure
numpy so tasks, oracles, primitives and the executor can share it without a physics client.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from cliport_common.poses import Pose, quat_from_yaw, yaw_of

IDENTITY_QUAT = (0.0, 0.0, 0.0, 1.0)


def _tuple(a) -> tuple[float, ...]:
    return tuple(float(x) for x in a)


def quat_from_euler(roll: float, pitch: float, yaw: float) -> tuple[float, float, float, float]:
    """PyBullet's ``getQuaternionFromEuler`` (extrinsic x, then y, then z), xyzw."""
    return _tuple(Rotation.from_euler("xyz", (roll, pitch, yaw)).as_quat())


def quat_multiply(q1, q2) -> tuple[float, float, float, float]:
    """Hamilton product q1*q2 of xyzw quaternions (apply q2 first, then q1)."""
    return _tuple((Rotation.from_quat(q1) * Rotation.from_quat(q2)).as_quat())


def quat_rotate(quat, vec) -> np.ndarray:
    return Rotation.from_quat(quat).apply(np.asarray(vec, dtype=np.float64))


def multiply(a: Pose, b: Pose) -> Pose:
    """Compose poses: the pose ``b`` expressed in frame ``a``, in a's parent frame."""
    ra = Rotation.from_quat(a[1])
    pos = ra.apply(np.asarray(b[0], dtype=np.float64)) + np.asarray(a[0], dtype=np.float64)
    return _tuple(pos), _tuple((ra * Rotation.from_quat(b[1])).as_quat())


def invert(a: Pose) -> Pose:
    r = Rotation.from_quat(a[1]).inv()
    return _tuple(-r.apply(np.asarray(a[0], dtype=np.float64))), _tuple(r.as_quat())


def offset(pose: Pose, dxyz) -> Pose:
    """``pose`` moved by ``dxyz`` expressed in the pose's own frame (the reference's ⊕)."""
    return multiply(pose, (_tuple(dxyz), IDENTITY_QUAT))


def matrix(pose: Pose) -> np.ndarray:
    """4x4 homogeneous matrix of a pose."""
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(pose[1]).as_matrix()
    T[:3, 3] = pose[0]
    return T


def yaw_only(pose: Pose) -> Pose:
    """Keep position and the yaw of the orientation (roll and pitch dropped)."""
    return pose[0], quat_from_yaw(yaw_of(pose[1]))


def wrap_angle(a: float) -> float:
    """Angle in (-pi, pi]."""
    a = math.fmod(a + math.pi, 2.0 * math.pi)
    if a <= 0.0:
        a += 2.0 * math.pi
    return a - math.pi


def yaw_difference(q1, q2, symmetry: float) -> float:
    """Smallest |yaw(q1) - yaw(q2)| modulo ``symmetry`` (radians; 0 = rotation ignored)."""
    if symmetry <= 0:
        return 0.0
    d = abs(yaw_of(q1) - yaw_of(q2)) % symmetry
    return min(d, symmetry - d)
