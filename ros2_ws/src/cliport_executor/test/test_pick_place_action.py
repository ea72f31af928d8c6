"""The PickPlace action between two real processes (executor node, dry-run backend)."""

from __future__ import annotations

import math

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient

from cliport_bringup.graph import load_graph
from cliport_bringup.ros_testing import spin_until
from cliport_executor.conversions import goal_from_request
from cliport_executor.request import ErrorCode, Phase, PickPlaceRequest, SE2Pose
from cliport_msgs.action import PickPlace

pytestmark = pytest.mark.timeout(120)


def make_goal(pick=(0.5, 0.0, 0.02, 0.0), place=(0.6, 0.2, 0.02, math.pi / 2)):
    return goal_from_request(PickPlaceRequest(
        instruction="put the red block in the blue bowl",
        pick=SE2Pose(*pick), place=SE2Pose(*place)))


@pytest.fixture
def client(node_runner, ros_node):
    node_runner.start(load_graph("executor_dryrun"))
    client = ActionClient(ros_node, PickPlace, "pick_place")
    assert spin_until(ros_node, lambda: client.server_is_ready(), 30, node_runner), \
        "the pick_place server did not come up"
    yield ros_node, client, node_runner
    client.destroy()


def send(node, client, goal, runner, feedback=None):
    fut = client.send_goal_async(goal, feedback_callback=feedback)
    assert spin_until(node, fut.done, 15, runner)
    return fut.result()


def test_goal_feedback_and_result(client):
    node, ac, runner = client
    feedback = []
    handle = send(node, ac, make_goal(), runner, lambda fb: feedback.append(fb.feedback))
    assert handle.accepted
    res_fut = handle.get_result_async()
    assert spin_until(node, res_fut.done, 15, runner)
    res = res_fut.result()
    assert res.status == GoalStatus.STATUS_SUCCEEDED
    assert res.result.success and res.result.error_code == ErrorCode.NONE
    phases = [fb.phase for fb in feedback]
    assert phases[0] == Phase.APPROACH and Phase.GRASP in phases and phases[-1] == Phase.RETREAT
    progress = [fb.progress for fb in feedback]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)


def test_cancel_ends_canceled(client):
    node, ac, runner = client
    feedback = []
    goal = make_goal()
    goal.speed_scaling = 0.02  # 2.5 s per phase: the cancel surely lands mid-goal, even under load
    handle = send(node, ac, goal, runner, lambda fb: feedback.append(fb.feedback))
    assert handle.accepted
    assert spin_until(node, lambda: len(feedback) >= 1, 10, runner)
    cancel_fut = handle.cancel_goal_async()
    assert spin_until(node, cancel_fut.done, 10, runner)
    assert len(cancel_fut.result().goals_canceling) == 1
    res_fut = handle.get_result_async()
    assert spin_until(node, res_fut.done, 10, runner)
    res = res_fut.result()
    assert res.status == GoalStatus.STATUS_CANCELED
    assert not res.result.success and res.result.error_code == ErrorCode.CANCELED


@pytest.mark.parametrize("mutate", ["nan_pose", "tilted", "empty_instruction", "bad_primitive",
                                    "wrong_frame"])
def test_invalid_goal_is_rejected(client, mutate):
    node, ac, runner = client
    goal = make_goal()
    if mutate == "nan_pose":
        goal.pick.pose.position.x = math.nan
    elif mutate == "tilted":
        goal.place.pose.orientation.x, goal.place.pose.orientation.w = 0.3827, 0.9239
    elif mutate == "empty_instruction":
        goal.instruction = "   "
    elif mutate == "bad_primitive":
        goal.primitive = 9
    elif mutate == "wrong_frame":
        goal.pick.header.frame_id = goal.place.header.frame_id = "camera_color_optical_frame"
    handle = send(node, ac, goal, runner)
    assert not handle.accepted
    # The node keeps serving after a rejection.
    handle = send(node, ac, make_goal(), runner)
    assert handle.accepted
    res_fut = handle.get_result_async()
    assert spin_until(node, res_fut.done, 15, runner)
    assert res_fut.result().status == GoalStatus.STATUS_SUCCEEDED


def test_out_of_workspace_aborts_with_reason(client):
    node, ac, runner = client
    handle = send(node, ac, make_goal(place=(1.5, 0.0, 0.02, 0.0)), runner)
    assert handle.accepted
    res_fut = handle.get_result_async()
    assert spin_until(node, res_fut.done, 15, runner)
    res = res_fut.result()
    assert res.status == GoalStatus.STATUS_ABORTED
    assert res.result.error_code == ErrorCode.OUT_OF_WORKSPACE
    assert "place" in res.result.message and "outside" in res.result.message
