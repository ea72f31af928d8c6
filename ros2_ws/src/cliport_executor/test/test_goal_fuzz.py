"""Hypothesis fuzz of PickPlace goal fields.

1. The screening function the goal callback uses (1000 goals): it never raises, and every
   goal it lets through is finite, SE(2), in the base frame and inside the workspace.
2. A live ``pick_place_server`` process (dry-run backend, no time spent per phase): random
   goals over DDS never kill it; each one is answered (rejected, or a terminal status with
   an error code), invalid ones are never accepted, and a good goal still succeeds after.
"""

from __future__ import annotations

import copy as copy_module
import math
from collections import Counter

import pytest
import rclpy
from action_msgs.msg import GoalStatus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.action import ActionClient
from rclpy.context import Context

from cliport_bringup.graph import NodeSpec
from cliport_bringup.runner import GraphRunner
from cliport_common.poses import quat_from_yaw
from cliport_common.ros.spin import spin_until
from cliport_executor.config import load_executor_config
from cliport_executor.request import ErrorCode
from cliport_executor.screening import ScreeningVerdict, screen_goal
from cliport_msgs.action import PickPlace

CFG = load_executor_config()
TERMINAL = {GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_ABORTED, GoalStatus.STATUS_CANCELED}
LIVE = Counter()  # what the live server answered, reported by the last test

wild = st.floats(allow_nan=True, allow_infinity=True)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WS = CFG.workspace


def _pose_field(draw, goal):
    pose = draw(st.sampled_from([goal.pick, goal.place]))
    axis = draw(st.sampled_from("xyz"))
    setattr(pose.pose.position, axis, draw(wild | st.floats(-2.0, 2.0)))


def _orientation(draw, goal):
    o = draw(st.sampled_from([goal.pick, goal.place])).pose.orientation
    if draw(st.booleans()):
        roll = draw(st.floats(0.0, 3.2))
        o.x, o.y, o.z, o.w = math.sin(roll / 2), 0.0, 0.0, math.cos(roll / 2)
    else:
        o.x, o.y, o.z, o.w = (draw(wild) for _ in range(4))


def _frame(draw, goal):
    draw(st.sampled_from([goal.pick, goal.place])).header.frame_id = draw(
        st.sampled_from(["world", "fr3_link0", "camera_color_optical_frame"]) | text)


def _primitive(draw, goal):
    goal.primitive = draw(st.integers(0, 255))


def _speed(draw, goal):
    # rclpy's float32 check refuses the few values above 3.402823466e38 (float32's max)
    goal.speed_scaling = draw(st.floats(-3.3999999521443642e38, 3.3999999521443642e38, width=32)
                              | st.sampled_from([math.nan, math.inf, -math.inf]))


def _instruction(draw, goal):
    goal.instruction = draw(text | st.just("   ") | st.text(min_size=500, max_size=600))


MUTATIONS = (_pose_field, _orientation, _frame, _primitive, _speed, _instruction)


@st.composite
def goals(draw):
    """A valid goal (random poses in the workspace, any yaw, either primitive), then up to
    three random fields made wild: about a third stay valid and run on the backend."""
    goal = PickPlace.Goal()
    goal.instruction = draw(st.sampled_from(["put the red block in the blue bowl",
                                             "push the pile into the green zone"]))
    for pose in (goal.pick, goal.place):
        pose.header.frame_id = "base"
        p = pose.pose.position
        p.x, p.y = draw(st.floats(WS.x_min, WS.x_max)), draw(st.floats(WS.y_min, WS.y_max))
        p.z = draw(st.floats(WS.z_min, 0.1))
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = quat_from_yaw(draw(st.floats(-7.0, 7.0)))
    goal.primitive = draw(st.sampled_from([0, 1]))
    goal.speed_scaling = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0, width=32))
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        mutate(draw, goal)
    return goal


def as_received(goal):
    """The goal as the server gets it: DDS / rosidl C strings end at the first NUL."""
    copy = copy_module.deepcopy(goal)
    copy.instruction = copy.instruction.split("\x00")[0]
    for pose in (copy.pick, copy.place):
        pose.header.frame_id = pose.header.frame_id.split("\x00")[0]
    return copy


def finite_pose(ps) -> bool:
    p, q = ps.pose.position, ps.pose.orientation
    return all(math.isfinite(v) for v in (p.x, p.y, p.z, q.x, q.y, q.z, q.w))


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(goals())
def test_screening_is_total_and_lets_only_valid_goals_through(goal):
    screened = screen_goal(goal, CFG)
    if screened.verdict == ScreeningVerdict.REJECT:
        assert screened.code in (ErrorCode.INVALID_GOAL, ErrorCode.OUT_OF_WORKSPACE)
        assert screened.message
        return
    req = screened.request
    assert finite_pose(goal.pick) and finite_pose(goal.place)
    assert goal.pick.header.frame_id in ("", "base") and goal.primitive in (0, 1)
    assert 0.0 <= goal.speed_scaling <= 1.0 and len(goal.instruction.strip()) > 0
    assert req.pick.is_finite() and req.place.is_finite()
    ws = CFG.workspace
    inside = all(ws.x_min <= p.x <= ws.x_max and ws.y_min <= p.y <= ws.y_max
                 and ws.z_min <= p.z <= ws.z_max for p in (req.pick, req.place))
    assert inside == (screened.verdict == ScreeningVerdict.ACCEPT)
    if screened.verdict == ScreeningVerdict.ABORT:
        assert screened.code == ErrorCode.OUT_OF_WORKSPACE and "outside" in screened.message


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    runner = GraphRunner(log_dir=tmp_path_factory.mktemp("fuzz_logs"))
    runner.start_node(NodeSpec(name="pick_place_server", package="cliport_executor",
                               executable="pick_place_server",
                               parameters=[{"backend": "dryrun", "dryrun.phase_duration": 0.0,
                                            "timeouts.goal": 20.0}]))
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("goal_fuzzer", context=context)
    client = ActionClient(node, PickPlace, "pick_place")
    try:
        assert spin_until(node, client.server_is_ready, 30, runner), "server did not come up"
        yield node, client, runner
    finally:
        client.destroy()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        runner.stop()


@pytest.mark.timeout(240)
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(goal=goals())
def test_fuzzed_goals_never_kill_the_server(live_server, goal):
    node, client, runner = live_server
    expected = screen_goal(as_received(goal), CFG).verdict
    fut = client.send_goal_async(goal)
    assert spin_until(node, fut.done, 15, runner), "no answer to a goal"
    handle = fut.result()
    assert handle.accepted == (expected != ScreeningVerdict.REJECT)
    LIVE["sent"] += 1
    if handle.accepted:
        res = handle.get_result_async()
        assert spin_until(node, res.done, 30, runner), "an accepted goal never finished"
        result = res.result()
        assert result.status in TERMINAL
        LIVE[ErrorCode(result.result.error_code).name] += 1
    else:
        LIVE["rejected"] += 1
        if expected == ScreeningVerdict.ABORT:
            assert result.status == GoalStatus.STATUS_ABORTED
            assert result.result.error_code == ErrorCode.OUT_OF_WORKSPACE
    runner.check_alive()


def test_the_server_still_works_after_the_fuzz(live_server):
    node, client, runner = live_server
    goal = PickPlace.Goal()
    goal.instruction = "push nothing in particular"
    for pose, x in ((goal.pick, 0.45), (goal.place, 0.55)):
        pose.header.frame_id = "base"
        pose.pose.position.x, pose.pose.position.z = x, 0.05
        pose.pose.orientation.w = 1.0
    fut = client.send_goal_async(goal)
    assert spin_until(node, fut.done, 15, runner) and fut.result().accepted
    res = fut.result().get_result_async()
    assert spin_until(node, res.done, 30, runner)
    assert res.result().status == GoalStatus.STATUS_SUCCEEDED
    runner.check_alive()
    print(f"live fuzz: {dict(LIVE)}")
    assert LIVE["rejected"] >= 5 and LIVE["sent"] - LIVE["rejected"] >= 10
