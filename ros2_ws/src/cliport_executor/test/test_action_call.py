"""ActionCall (the gripper / recovery clients' blocking calls) against a real action server.

franka_msgs is not installable here, so the server speaks PickPlace; the waiting, timeout,
cancel and "no server" paths are the ones the Franka gripper uses.
"""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from cliport_executor.arm_interface import MotionError
from cliport_executor.request import ErrorCode
from cliport_executor.ros.action_call import ActionCall
from cliport_msgs.action import PickPlace

pytestmark = pytest.mark.timeout(60)


class Spinning:
    """A node in its own context, spun by a multi-threaded executor in a thread."""

    def __init__(self, name: str) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture(scope="module")
def peers():
    server = Spinning("fake_gripper")
    canceled = []

    def execute(handle):
        if handle.request.instruction == "slow":
            end = time.monotonic() + 10.0
            while time.monotonic() < end and not handle.is_cancel_requested:
                time.sleep(0.01)
            if handle.is_cancel_requested:
                canceled.append(handle.request.instruction)
                handle.canceled()
                return PickPlace.Result()
        handle.succeed()
        result = PickPlace.Result()
        result.success = True
        result.message = f"did {handle.request.instruction}"
        return result

    group = ReentrantCallbackGroup()
    ActionServer(server.node, PickPlace, "gripper/grasp", execute, callback_group=group,
                 goal_callback=lambda g: GoalResponse.REJECT if g.instruction == "no"
                 else GoalResponse.ACCEPT,
                 cancel_callback=lambda _h: CancelResponse.ACCEPT)
    client = Spinning("executor")
    yield client, canceled
    client.close()
    server.close()


def goal(text: str):
    g = PickPlace.Goal()
    g.instruction = text
    return g


def test_a_call_returns_the_result(peers):
    client, _ = peers
    call = ActionCall(client.node, PickPlace, "gripper/grasp")
    result = call(goal("grasp"), timeout=10.0)
    assert result.success and result.message == "did grasp"


def test_a_rejected_goal_is_a_hardware_error(peers):
    client, _ = peers
    call = ActionCall(client.node, PickPlace, "gripper/grasp")
    with pytest.raises(MotionError, match="rejected") as err:
        call(goal("no"), timeout=10.0)
    assert err.value.code == ErrorCode.HARDWARE


def test_a_slow_goal_times_out_and_is_canceled_on_the_server(peers):
    client, canceled = peers
    call = ActionCall(client.node, PickPlace, "gripper/grasp")
    start = time.monotonic()
    with pytest.raises(MotionError, match="did not finish within 0.5 s") as err:
        call(goal("slow"), timeout=0.5)
    assert err.value.code == ErrorCode.TIMEOUT and time.monotonic() - start < 3.0
    deadline = time.monotonic() + 5.0
    while not canceled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert canceled == ["slow"]
    canceled.clear()


def test_cancel_from_another_thread_wakes_the_caller(peers):
    client, canceled = peers
    call = ActionCall(client.node, PickPlace, "gripper/grasp")
    threading.Timer(0.3, call.cancel).start()
    start = time.monotonic()
    with pytest.raises(MotionError) as err:
        call(goal("slow"), timeout=10.0)
    assert err.value.code == ErrorCode.CANCELED and time.monotonic() - start < 3.0
    canceled.clear()


def test_no_server_is_a_clear_hardware_error(peers):
    client, _ = peers
    call = ActionCall(client.node, PickPlace, "franka_gripper/homing")
    with pytest.raises(MotionError, match="no action server 'franka_gripper/homing'"):
        call(goal("home"), timeout=0.3)
