"""The MoveIt/Franka backend: pose math, sequencing and error recovery over recording fakes
(MoveIt, franka_ros2 and a Franka are not available here), plus the clear errors where the
real dependencies are missing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import MotionError
from cliport_executor.backend import BackendUnavailable, make_backend
from cliport_executor.backends.moveit import MoveItFrankaBackend
from cliport_executor.config import ExecutorConfig, MoveItConfig, RecoveryConfig
from cliport_executor.franka.moveit_arm import MoveItArm
from cliport_executor.franka.poses import (
    fold_gripper_yaws,
    pose_goal,
    pose_stamped,
    to_planning_frame,
    tool_poses,
    top_down_quaternion,
)
from cliport_executor.franka.recovery import RecoveryError, recover
from cliport_executor.request import ErrorCode, PickPlaceRequest, Primitive
from cliport_executor.supervision import Supervisor
from cliport_executor.testing import RecordingArm, RecordingRecovery

CFG = ExecutorConfig()


# ------------------------------------------------------------------------------ pose math
@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, math.pi])
def test_top_down_quaternion_points_the_tool_down_and_along_the_yaw(yaw):
    q = top_down_quaternion(yaw)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    R = Rotation.from_quat(q).as_matrix()  # scipy: xyzw, as ROS
    np.testing.assert_allclose(R[:, 2], [0, 0, -1], atol=1e-12)  # tool z down
    np.testing.assert_allclose(R[:, 0], [math.cos(yaw), math.sin(yaw), 0], atol=1e-12)
    # the same as 180 deg about base x, then yaw about the vertical (docs/design.md#franka-frames)
    ref = Rotation.from_euler("z", yaw) * Rotation.from_euler("x", math.pi)
    np.testing.assert_allclose(R, ref.as_matrix(), atol=1e-12)


@pytest.mark.parametrize("pick, place", [(0.0, 0.5), (3.0, 2.5), (-3.0, 3.0), (2.0, -2.0),
                                         (1.6, 1.6)])
def test_gripper_yaw_fold_keeps_the_relative_turn_and_stays_near_neutral(pick, place):
    a, b = fold_gripper_yaws(pick, place)
    turn = math.remainder((b - a) - (place - pick), 2 * math.pi)
    assert turn == pytest.approx(0.0, abs=1e-12)  # the object turns exactly as asked
    assert math.remainder(a - pick, math.pi) == pytest.approx(0.0, abs=1e-12)  # same grasp
    other = (a + math.pi, b + math.pi)
    worst = max(abs(math.remainder(v, 2 * math.pi)) for v in (a, b))
    assert worst <= max(abs(math.remainder(v, 2 * math.pi)) for v in other) + 1e-12


def test_goal_frame_to_planning_frame():
    moved = to_planning_frame(SE2Pose(0.5, 0.1, 0.02, 0.3), (0.1, -0.2, 0.05, math.pi / 2))
    assert (moved.x, moved.y, moved.z) == pytest.approx((0.0, 0.3, 0.07))
    assert moved.yaw == pytest.approx(0.3 + math.pi / 2)
    identity = to_planning_frame(SE2Pose(0.5, 0.1, 0.02, 0.3), CFG.moveit.goal_to_planning)
    assert identity == SE2Pose(0.5, 0.1, 0.02, 0.3)  # FR3: base == fr3_link0


def test_pose_stamped_goal_for_moveit():
    cfg = dataclasses.replace(CFG.moveit, tcp_yaw_offset=0.1)
    pick, _ = tool_poses(SE2Pose(0.5, 0.1, 0.04, 0.2), SE2Pose(0.6, 0.0, 0.04, 0.2), cfg)
    assert pick.yaw == pytest.approx(0.3)
    msg = pose_stamped(pick, cfg)
    assert msg.header.frame_id == "fr3_link0"
    assert (msg.pose.position.x, msg.pose.position.z) == pytest.approx((0.5, 0.04))
    o = msg.pose.orientation
    assert (o.x, o.y, o.z, o.w) == pytest.approx(top_down_quaternion(0.3))
    panda = MoveItConfig(planning_group="panda_arm", tcp_link="panda_hand_tcp",
                         planning_frame="panda_link0")
    assert pose_goal(pick, panda)[0] == pytest.approx((0.5, 0.1, 0.04))
    assert pose_stamped(pick, panda).header.frame_id == "panda_link0"


# ------------------------------------------------------------------------------ backend
def backend(arm=None, recovery=None, **cfg):
    arm = arm or RecordingArm()
    b = MoveItFrankaBackend(dataclasses.replace(CFG, **cfg), motion=arm, tool=arm,
                            recovery=recovery or RecordingRecovery())
    b.connect()
    return b, arm


def request(**kw) -> PickPlaceRequest:
    base = dict(instruction="pack the blue block", pick=SE2Pose(0.45, 0.1, 0.04, 3.0),
                place=SE2Pose(0.6, -0.2, 0.04, 2.5))
    base.update(kw)
    return PickPlaceRequest(**base)


def test_connect_homes_the_gripper_and_each_goal_resumes_motion():
    b, arm = backend()
    assert arm.log == [("home",)]
    assert b.execute(request(), Supervisor()).success
    assert arm.log[1] == ("resume",)


def test_goal_yaws_are_folded_for_the_parallel_gripper():
    b, arm = backend()
    b.execute(request(), Supervisor())
    yaws = [c[1].yaw for c in arm.calls("free", "lin")]
    assert yaws[0] == pytest.approx(3.0 - math.pi) and yaws[-1] == pytest.approx(2.5 - math.pi)


def test_push_goals_run_the_push_sequence_with_a_folded_stroke_yaw():
    b, arm = backend()
    out = b.execute(request(primitive=Primitive.PUSH, pick=SE2Pose(0.6, 0.0, 0.0, 0.0),
                            place=SE2Pose(0.4, 0.0, 0.0, 0.0)), Supervisor())
    assert out.success and arm.log[2] == ("close",)
    yaws = {round(c[1].yaw, 9) for c in arm.calls("free", "lin")}
    assert yaws == {0.0}  # a push along -x (yaw pi): the same fingers, folded onto 0


def test_a_hardware_fault_runs_the_recovery_sequence_in_order():
    arm = RecordingArm()
    arm.fail_at[3] = MotionError(ErrorCode.HARDWARE, "execution ended ABORTED")
    recovery = RecordingRecovery()
    b, _ = backend(arm, recovery)
    out = b.execute(request(), Supervisor())
    assert out.error_code == ErrorCode.HARDWARE
    assert [c[0] for c in recovery.log] == ["error_recovery", "activate_hardware",
                                            "activate_controllers"]
    assert recovery.log[1][1] == "FrankaHardwareInterface"
    assert recovery.log[2][1] == ("fr3_arm_controller",)
    assert "recovered: error recovery -> activate FrankaHardwareInterface" in out.message
    assert ("stop",) in arm.log  # and the arm was stopped first


def test_a_failed_recovery_step_is_reported_and_later_steps_skipped():
    arm = RecordingArm()
    arm.fail_at[0] = MotionError(ErrorCode.HARDWARE, "execution ended ABORTED")
    recovery = RecordingRecovery(fail_step=2)
    b, _ = backend(arm, recovery)
    out = b.execute(request(), Supervisor())
    assert "recovery step 2 (activate FrankaHardwareInterface) failed" in out.message
    assert len(recovery.log) == 2


def test_planning_failures_do_not_trigger_recovery():
    arm = RecordingArm()
    arm.fail_at[0] = MotionError(ErrorCode.PLANNING_FAILED, "no plan")
    recovery = RecordingRecovery()
    b, _ = backend(arm, recovery)
    assert b.execute(request(), Supervisor()).error_code == ErrorCode.PLANNING_FAILED
    assert recovery.log == []


def test_recover_runs_the_configured_names():
    calls = RecordingRecovery()
    cfg = RecoveryConfig(hardware_component="FrankaHW", controllers=("panda_arm_controller",))
    assert recover(calls, cfg, 3.0) == ["error recovery", "activate FrankaHW",
                                        "activate panda_arm_controller"]
    assert calls.log[2] == ("activate_controllers", ("panda_arm_controller",), 3.0)
    with pytest.raises(RecoveryError, match="step 1"):
        recover(RecordingRecovery(fail_step=1), cfg, 3.0)


def test_not_connected_backend_fails_cleanly():
    b = MoveItFrankaBackend(CFG, motion=RecordingArm(), tool=RecordingArm())
    assert b.execute(request(), Supervisor()).error_code == ErrorCode.HARDWARE


# ------------------------------------------------------------------------------ real deps
def test_without_moveit_connect_says_what_is_missing():
    arm = MoveItArm(CFG.moveit)
    with pytest.raises(BackendUnavailable, match="moveit_py is not installed"):
        arm.connect()
    with pytest.raises(BackendUnavailable, match="moveit_py"):
        make_backend("moveit", CFG).connect()


def test_without_a_ros_node_the_gripper_cannot_be_built():
    b = MoveItFrankaBackend(CFG, motion=RecordingArm())
    with pytest.raises(BackendUnavailable, match="ROS node"):
        b.connect()


def test_without_franka_msgs_the_gripper_says_so(ros_node):
    from cliport_executor.ros.franka_gripper import FrankaGripper

    with pytest.raises(BackendUnavailable, match="franka_msgs"):
        FrankaGripper(ros_node, CFG.gripper, 1.0)
