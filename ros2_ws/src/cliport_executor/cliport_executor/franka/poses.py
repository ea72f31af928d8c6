"""Pose math for a top-down Franka Hand: goal poses -> TCP poses -> MoveIt pose goals.

Pure Python (geometry_msgs only in :func:`pose_stamped`), so all of it is tested here even
though MoveIt is not installed.

* **Top-down TCP**: the TCP's z axis points down and its x axis points along the yaw:
  R = Rz(yaw) * Rx(pi), quaternion (x, y, z, w) = (cos(yaw/2), sin(yaw/2), 0, 0)
  (docs/design.md#franka-frames: 180 deg about base x, then the yaw about the vertical).
* **Parallel-gripper symmetry**: a grasp at yaw and yaw + pi is the same grasp. Pick and
  place yaws are shifted together by 0 or pi (so the object turns by the same amount) to
  whichever keeps both nearest ``neutral_yaw``; wrist joint 7 then stays clear of its limits.
* **Frames**: ``goal_to_planning`` = (x, y, z, yaw) of the goal's base frame in the planning
  frame (zero for an FR3: ``base`` and ``fr3_link0`` coincide).
"""

from __future__ import annotations

import math

from cliport_common.poses import SE2Pose
from cliport_executor.config import MoveItConfig

Quaternion = tuple[float, float, float, float]


def wrap_angle(a: float) -> float:
    """Angle in [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def top_down_quaternion(yaw: float) -> Quaternion:
    """(x, y, z, w) of Rz(yaw) * Rx(pi): tool z down, tool x along ``yaw``."""
    return (math.cos(yaw / 2.0), math.sin(yaw / 2.0), 0.0, 0.0)


def fold_gripper_yaws(pick_yaw: float, place_yaw: float, neutral: float = 0.0
                      ) -> tuple[float, float]:
    """Shift both yaws by 0 or pi (together) to keep them nearest ``neutral``.

    Returns yaws in [neutral - pi, neutral + pi); the place-minus-pick rotation is kept
    modulo 2 pi, so the object ends turned exactly as asked.
    """
    best: tuple[float, float, float] | None = None
    for shift in (0.0, math.pi):
        a = neutral + wrap_angle(pick_yaw + shift - neutral)
        b = neutral + wrap_angle(place_yaw + shift - neutral)
        cost = max(abs(a - neutral), abs(b - neutral))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, a, b)
    assert best is not None
    return best[1], best[2]


def tool_poses(pick: SE2Pose, place: SE2Pose, cfg: MoveItConfig) -> tuple[SE2Pose, SE2Pose]:
    """TCP poses (base frame) for a parallel gripper: yaw offset, then the pi fold."""
    a, b = fold_gripper_yaws(pick.yaw + cfg.tcp_yaw_offset, place.yaw + cfg.tcp_yaw_offset,
                             cfg.neutral_yaw)
    return SE2Pose(pick.x, pick.y, pick.z, a), SE2Pose(place.x, place.y, place.z, b)


def to_planning_frame(pose: SE2Pose, goal_to_planning: tuple[float, float, float, float]
                      ) -> SE2Pose:
    """Express a base-frame TCP pose in the planning frame (a planar offset + yaw)."""
    tx, ty, tz, tyaw = goal_to_planning
    c, s = math.cos(tyaw), math.sin(tyaw)
    return SE2Pose(tx + c * pose.x - s * pose.y, ty + s * pose.x + c * pose.y, tz + pose.z,
                    pose.yaw + tyaw)


def pose_goal(pose: SE2Pose, cfg: MoveItConfig) -> tuple[tuple[float, float, float],
                                                             Quaternion]:
    """(position, quaternion) of the TCP goal in ``cfg.planning_frame``."""
    p = to_planning_frame(pose, cfg.goal_to_planning)
    return (p.x, p.y, p.z), top_down_quaternion(p.yaw)


def pose_stamped(pose: SE2Pose, cfg: MoveItConfig):
    """``geometry_msgs/PoseStamped`` for ``PlanningComponent.set_goal_state``."""
    from geometry_msgs.msg import PoseStamped

    (x, y, z), (qx, qy, qz, qw) = pose_goal(pose, cfg)
    msg = PoseStamped()
    msg.header.frame_id = cfg.planning_frame
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = x, y, z
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = qx, qy, qz, qw
    return msg
