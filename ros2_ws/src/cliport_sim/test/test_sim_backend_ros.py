"""PickPlace over real rclpy / DDS with the real PyBullet arm behind it.

* Two processes: the ``pick_place_server`` executable with ``backend: sim`` owns a seeded
  task scene; the test builds the same scene (same seed, same scene in any process) to know
  where the block and the bowl are, sends the goal and checks result, reward and phases.
* One process, two ROS contexts: the server node runs on an injected backend whose world
  the test can inspect, to measure where the block ended (+-1 cm) and that a cancel
  mid-motion leaves the arm stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading

import numpy as np
import pybullet as p
import pytest
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter

from cliport_bringup.graph import NodeSpec
from cliport_common.poses import SE2Pose
from cliport_common.ros.spin import spin_until
from cliport_executor.config import ExecutorConfig, SimBackendConfig
from cliport_executor.conversions import goal_from_request
from cliport_executor.nodes.pick_place_server import PickPlaceServer
from cliport_executor.request import PICK_PLACE_PHASES, ErrorCode, PickPlaceRequest
from cliport_msgs.action import PickPlace
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.sim_backend import SimBackend
from cliport_sim.tasks import make_task

pytestmark = pytest.mark.timeout(120)
TASK, SEED = "put-block-in-bowl-seen-colors", 10003
BLOCK_HALF = 0.02


def scene(seed: int = SEED) -> Environment:
    env = Environment(make_task(TASK, "test"), SimConfig(observe=False, egl=False))
    env.reset(seed)
    return env


def block_to_bowl_goal(env: Environment, yaw: float = 0.4):
    goal = env.task.goals[0]
    (x, y, z), _ = env.pose(goal.objects[0])
    bowl = goal.targets[0][0]
    req = PickPlaceRequest(env.task.lang_goal, SE2Pose(x, y, z + BLOCK_HALF, 0.0),
                           SE2Pose(bowl[0], bowl[1], 2 * BLOCK_HALF, yaw))
    return goal_from_request(req), goal.objects[0], bowl


def send_and_wait(node, client, goal, runner=None, timeout=30.0):
    feedback = []
    fut = client.send_goal_async(goal, feedback_callback=lambda fb: feedback.append(fb.feedback))
    assert spin_until(node, fut.done, 15, runner)
    handle = fut.result()
    assert handle.accepted
    res = handle.get_result_async()
    assert spin_until(node, res.done, timeout, runner)
    # Feedback and result travel on different topics: under load the last feedback messages
    # can arrive after the result, so give them a moment (up to the final progress of 1).
    spin_until(node, lambda: bool(feedback) and feedback[-1].progress >= 1.0 - 1e-6, 5.0,
               runner)
    return res.result(), feedback


def assert_phases_in_order(feedback):
    phases = [fb.phase for fb in feedback]
    firsts = [ph for i, ph in enumerate(phases) if ph not in phases[:i]]
    assert firsts == [int(ph) for ph in PICK_PLACE_PHASES]
    progress = [fb.progress for fb in feedback]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)


def test_sim_server_process_runs_the_goal_scores_it_and_reports_phases(node_runner, ros_node):
    node_runner.start_node(NodeSpec(
        name="pick_place_server", package="cliport_executor", executable="pick_place_server",
        parameters=[{"backend": "sim", "sim.task": TASK, "sim.seed": SEED}]))
    client = ActionClient(ros_node, PickPlace, "pick_place")
    assert spin_until(ros_node, client.server_is_ready, 30, node_runner)
    with contextlib.closing(scene()) as env:
        goal, _, _ = block_to_bowl_goal(env)
    res, feedback = send_and_wait(ros_node, client, goal, node_runner)
    assert res.status == GoalStatus.STATUS_SUCCEEDED, res.result.message
    assert res.result.success and res.result.error_code == ErrorCode.NONE
    assert res.result.has_reward and res.result.reward > 0  # the block is in the bowl
    assert_phases_in_order(feedback)
    client.destroy()


@contextlib.contextmanager
def server_in_process(backend, **params):
    """The server node in its own context and executor thread (as its process would)."""
    context = Context()
    rclpy.init(context=context)
    overrides = [Parameter(k, value=v) for k, v in {"backend": "sim", **params}.items()]
    node = PickPlaceServer(context=context, parameter_overrides=overrides, backend=backend)
    executor = MultiThreadedExecutor(num_threads=node.config.executor_threads, context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        executor.shutdown()
        thread.join(timeout=10)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_block_ends_within_1cm_and_cancel_mid_motion_leaves_the_arm_stopped(ros_node):
    env = scene()
    cfg = dataclasses.replace(ExecutorConfig(), sim=SimBackendConfig(real_time_factor=1.0))
    backend = SimBackend(cfg, env=env)
    try:
        with server_in_process(backend):
            client = ActionClient(ros_node, PickPlace, "pick_place")
            assert spin_until(ros_node, client.server_is_ready, 30)
            goal, block, bowl = block_to_bowl_goal(env)
            res, feedback = send_and_wait(ros_node, client, goal)
            assert res.status == GoalStatus.STATUS_SUCCEEDED, res.result.message
            error = math.dist(env.pose(block)[0][:2], bowl[:2])
            print(f"over ROS: block {1000 * error:.2f} mm from the place pose")
            assert error < 0.01
            assert_phases_in_order(feedback)

            # Carry it on to a free spot, canceled on the way (real time, slowed: ~2 s motion).
            (x, y, z), _ = env.pose(block)
            free = env.task.random_pose(env, (0.04, 0.04, 0.04))[0]
            goal = goal_from_request(PickPlaceRequest(
                "move the block out", SE2Pose(x, y, z + BLOCK_HALF, 0.0),
                SE2Pose(free[0], free[1], 2 * BLOCK_HALF, -0.3), speed_scaling=0.3))
            seen = []
            fut = client.send_goal_async(goal, feedback_callback=lambda fb: seen.append(
                fb.feedback.phase))
            assert spin_until(ros_node, fut.done, 15)
            handle = fut.result()
            assert handle.accepted
            assert spin_until(ros_node, lambda: PickPlace.Feedback.PHASE_TRANSFER in seen, 20)
            cancel = handle.cancel_goal_async()
            assert spin_until(ros_node, cancel.done, 10)
            res_fut = handle.get_result_async()
            assert spin_until(ros_node, res_fut.done, 10)
            res = res_fut.result()
            assert res.status == GoalStatus.STATUS_CANCELED
            assert res.result.error_code == ErrorCode.CANCELED and not res.result.success
            robot = env.robot
            assert robot.ee.held_object == block  # still held: not dropped from the air
            tip0 = np.array(robot.tip_pose()[0])
            for _ in range(240):
                robot.step()
            drift = float(np.linalg.norm(np.array(robot.tip_pose()[0]) - tip0))
            speed = max(abs(s[1]) for s in p.getJointStates(robot.body, robot.joints,
                                                            physicsClientId=env.client))
            assert drift < 0.005 and speed < 0.05, (drift, speed)
            client.destroy()
    finally:
        env.close()
