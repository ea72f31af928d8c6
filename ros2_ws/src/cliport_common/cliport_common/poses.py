"""Poses shared by every package: the ``(xyz, quat)`` tuple, the planar ``SE2Pose``,
quaternion <-> yaw, heightmap cell -> position, and ``Pose`` -> ``geometry_msgs/PoseStamped``.

Quaternions are **xyzw** (PyBullet's and ROS messages' field order), tuples of floats. One
definition, so the sim, policy, executor and teleop cannot disagree on an order or a sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Quaternion = tuple[float, float, float, float]
Pose = tuple[tuple[float, float, float], Quaternion]


def quat_from_yaw(yaw: float) -> Quaternion:
    """Rotation by ``yaw`` radians about +z, xyzw."""
    return (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0))


def yaw_of(quat) -> float:
    """Yaw (rotation about +z) of an xyzw quaternion, in (-pi, pi]."""
    x, y, z, w = quat
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class Grid(Protocol):
    """The part of a heightmap's workspace (``cliport_perception.workspace.Workspace``) that
    cell <-> position needs."""

    z_min: float
    shape: tuple[int, int]

    def in_grid(self, u: int, v: int) -> bool: ...

    def pixel_to_xy(self, u: int, v: int) -> tuple[float, float]: ...


def cell_position(grid: Grid, heightmap: np.ndarray, u: int, v: int, radius: int = 0
                  ) -> tuple[float, float, float]:
    """Centre of cell (u, v) in the base frame at the highest height ``heightmap`` (metres
    above ``z_min``) holds within ``radius`` cells of it; unseen cells (NaN, or 0: fusion's
    "no reading") read as the table.

    Why the neighbourhood: a depth camera leaves holes, and a hole under the chosen cell of a
    block's top would send a gripper to the table inside the block."""
    if not grid.in_grid(u, v):
        raise ValueError(f"cell ({u}, {v}) lies outside the grid {grid.shape}")
    x, y = grid.pixel_to_xy(u, v)
    r = max(0, int(radius))
    window = np.asarray(heightmap[max(0, u - r): u + r + 1, max(0, v - r): v + r + 1],
                        dtype=np.float64)
    seen = window[np.isfinite(window)]
    h = max(float(seen.max()), 0.0) if seen.size else 0.0
    return (x, y, grid.z_min + h)


def place_z(surface_z: float, pick_z: float, z_min: float) -> float:
    """The place z of the ``PickPlace`` contract (where the picked point should end): the
    surface there plus the picked point's height above the table, so a gripper that moves to
    the commanded z releases the object resting on that surface."""
    return surface_z + max(pick_z - z_min, 0.0)


def pose_stamped(pose: Pose, frame_id: str, stamp: Any) -> Any:
    """``geometry_msgs/PoseStamped`` of ``pose`` in ``frame_id`` at ``stamp`` (copied)."""
    from geometry_msgs.msg import PoseStamped

    from cliport_common.stamps import copy_stamp

    (x, y, z), (qx, qy, qz, qw) = pose
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    msg.header.stamp = copy_stamp(stamp)
    p, o = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = float(x), float(y), float(z)
    o.x, o.y, o.z, o.w = float(qx), float(qy), float(qz), float(qw)
    return msg


@dataclass(frozen=True)
class SE2Pose:
    """A planar pose with height: position (m) in the base frame, rotation ``yaw`` (rad)
    about +z. A pick or place target, and the top-down tool pose an arm moves to."""

    x: float
    y: float
    z: float
    yaw: float

    def at_z(self, z: float) -> SE2Pose:
        return SE2Pose(self.x, self.y, z, self.yaw)

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.x, self.y, self.z, self.yaw))
