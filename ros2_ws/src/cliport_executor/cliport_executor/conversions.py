"""``PickPlace`` goal/result messages <-> backend-neutral requests (no rclpy)."""

from __future__ import annotations

import math

from cliport_common.poses import SE2Pose, quat_from_yaw, yaw_of
from cliport_executor.request import Outcome, PickPlaceRequest
from cliport_executor.validation import ErrorCode, GoalError


def yaw_from_quaternion(x: float, y: float, z: float, w: float, max_tilt: float) -> float:
    """Yaw of a quaternion that must be a pure rotation about +z (an SE(2) pose).

    Raises GoalError for a non-unit or tilted quaternion: a suction cup or parallel
    gripper told to tilt would not do what a planar policy meant.
    """
    values = (x, y, z, w)
    if not all(math.isfinite(v) for v in values):
        raise GoalError(ErrorCode.INVALID_GOAL, f"orientation has non-finite values: {values}")
    norm = math.sqrt(sum(v * v for v in values))
    if abs(norm - 1.0) > 1e-3:
        raise GoalError(ErrorCode.INVALID_GOAL, f"orientation is not a unit quaternion "
                        f"(norm {norm:.4f})")
    x, y, z, w = (v / norm for v in values)
    # Angle between the rotated z axis and the world z axis.
    cos_tilt = 1.0 - 2.0 * (x * x + y * y)
    tilt = math.acos(max(-1.0, min(1.0, cos_tilt)))
    if tilt > max_tilt:
        raise GoalError(ErrorCode.INVALID_GOAL, f"orientation is tilted by {tilt:.3f} rad; "
                        f"SE(2) goals allow at most {max_tilt} rad of roll/pitch")
    return yaw_of((x, y, z, w))


def pose_from_msg(pose_stamped, max_tilt: float) -> SE2Pose:
    p, q = pose_stamped.pose.position, pose_stamped.pose.orientation
    return SE2Pose(p.x, p.y, p.z, yaw_from_quaternion(q.x, q.y, q.z, q.w, max_tilt))


def fill_pose(pose_stamped, pose: SE2Pose, frame_id: str) -> None:
    pose_stamped.header.frame_id = frame_id
    pose_stamped.pose.position.x = float(pose.x)
    pose_stamped.pose.position.y = float(pose.y)
    pose_stamped.pose.position.z = float(pose.z)
    q = quat_from_yaw(pose.yaw)
    o = pose_stamped.pose.orientation
    o.x, o.y, o.z, o.w = q


def request_from_goal(goal, max_tilt: float) -> PickPlaceRequest:
    """Decode a PickPlace goal; raises GoalError for malformed content."""
    frames = {goal.pick.header.frame_id, goal.place.header.frame_id}
    if len(frames) != 1:
        raise GoalError(ErrorCode.INVALID_GOAL, f"pick and place frames differ: {sorted(frames)}")
    return PickPlaceRequest(
        instruction=goal.instruction,
        pick=pose_from_msg(goal.pick, max_tilt),
        place=pose_from_msg(goal.place, max_tilt),
        primitive=goal.primitive,
        speed_scaling=float(goal.speed_scaling),
        frame_id=frames.pop(),
    )


def goal_from_request(req: PickPlaceRequest):
    from cliport_msgs.action import PickPlace

    goal = PickPlace.Goal()
    goal.instruction = req.instruction
    fill_pose(goal.pick, req.pick, req.frame_id)
    fill_pose(goal.place, req.place, req.frame_id)
    goal.primitive = int(req.primitive)
    goal.speed_scaling = float(req.speed_scaling)
    return goal


def result_from_outcome(outcome: Outcome):
    from cliport_msgs.action import PickPlace

    result = PickPlace.Result()
    result.success = bool(outcome.success)
    result.error_code = int(outcome.error_code)
    result.message = outcome.message
    result.has_reward = outcome.reward is not None
    result.reward = float(outcome.reward) if outcome.reward is not None else 0.0
    return result
