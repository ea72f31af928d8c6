"""The PickPlace action between two real processes (executor node, dry-run backend)."""

from __future__ import annotations

import math

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient

from cliport_bringup.graph import NodeSpec, load_graph
from cliport_common.poses import SE2Pose
from cliport_common.ros.spin import spin_until
from cliport_executor.conversions import goal_from_request
from cliport_executor.request import ErrorCode, Phase, PickPlaceRequest
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
    settle(ros_node, node_runner)
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
    # feedback may trail the result (two topics): wait for the last one
    spin_until(node, lambda: bool(feedback) and feedback[-1].progress >= 1.0 - 1e-6, 5.0, runner)
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


def start_server(runner, node, **params):
    runner.start_node(NodeSpec(name="pick_place_server", package="cliport_executor",
                               executable="pick_place_server", parameters=[params]))
    client = ActionClient(node, PickPlace, "pick_place")
    assert spin_until(node, client.server_is_ready, 30, runner), "server did not come up"
    settle(node, runner)
    return client


def settle(node, runner, seconds: float = 1.0) -> None:
    """Spin a moment after the server is seen: "ready" means the client matched the server's
    request reader, not that the server has matched the client's response reader yet; a goal
    sent in between can lose its response (seen twice in 860 tests under load)."""
    spin_until(node, lambda: False, seconds, runner)


def slow_goal(seconds_per_phase: float = 1.0):
    goal = make_goal()
    goal.speed_scaling = 0.05 / seconds_per_phase  # dry run: 0.05 s per phase at scaling 1
    return goal


def result_of(node, handle, runner, timeout=20):
    fut = handle.get_result_async()
    assert spin_until(node, fut.done, timeout, runner)
    return fut.result()


def test_busy_policy_reject_refuses_a_second_goal_while_one_runs(node_runner, ros_node):
    ac = start_server(node_runner, ros_node, backend="dryrun", busy_policy="reject")
    first = send(ros_node, ac, slow_goal(0.5), node_runner)
    assert first.accepted
    second = send(ros_node, ac, make_goal(), node_runner)
    assert not second.accepted
    assert result_of(ros_node, first, node_runner).status == GoalStatus.STATUS_SUCCEEDED
    third = send(ros_node, ac, make_goal(), node_runner)  # free again
    assert third.accepted
    assert result_of(ros_node, third, node_runner).status == GoalStatus.STATUS_SUCCEEDED
    ac.destroy()


def test_busy_policy_preempt_aborts_the_running_goal_for_the_new_one(node_runner, ros_node):
    ac = start_server(node_runner, ros_node, backend="dryrun", busy_policy="preempt")
    feedback = []
    first = send(ros_node, ac, slow_goal(2.0), node_runner, lambda fb: feedback.append(fb))
    assert first.accepted
    assert spin_until(ros_node, lambda: len(feedback) >= 1, 10, node_runner)
    second = send(ros_node, ac, make_goal(), node_runner)
    assert second.accepted
    old = result_of(ros_node, first, node_runner)
    assert old.status == GoalStatus.STATUS_ABORTED
    assert old.result.error_code == ErrorCode.CANCELED and "preempted" in old.result.message
    new = result_of(ros_node, second, node_runner)
    assert new.status == GoalStatus.STATUS_SUCCEEDED
    ac.destroy()


def test_out_of_workspace_can_be_rejected_outright(node_runner, ros_node):
    ac = start_server(node_runner, ros_node, backend="dryrun", reject_out_of_workspace=True)
    assert not send(ros_node, ac, make_goal(pick=(0.5, 0.9, 0.02, 0.0)), node_runner).accepted
    assert not send(ros_node, ac, make_goal(place=(0.5, 0.0, 0.5, 0.0)), node_runner).accepted
    assert send(ros_node, ac, make_goal(), node_runner).accepted
    ac.destroy()


def test_a_backend_that_cannot_connect_leaves_the_server_serving(node_runner, ros_node):
    """backend: moveit without MoveIt installed: goals abort with the reason, node stays up."""
    ac = start_server(node_runner, ros_node, backend="moveit")
    for _ in range(2):
        handle = send(ros_node, ac, make_goal(), node_runner)
        assert handle.accepted
        res = result_of(ros_node, handle, node_runner)
        assert res.status == GoalStatus.STATUS_ABORTED
        assert res.result.error_code == ErrorCode.HARDWARE
        assert "moveit_py is not installed" in res.result.message
    bad = make_goal()
    bad.pick.pose.position.y = math.inf
    assert not send(ros_node, ac, bad, node_runner).accepted  # validation still first
    node_runner.check_alive()
    ac.destroy()
