"""ActionFirstExecutor: goal and cancel callbacks on the spin thread, answered while an
execute callback blocks a pool thread; timers keep firing; callback errors surface."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def world(ros_node):
    from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
    from rclpy.callback_groups import ReentrantCallbackGroup

    from cliport_executor.ros.executor import ActionFirstExecutor
    from cliport_msgs.action import PickPlace

    seen = {"goal_threads": [], "execute_threads": [], "cancel_threads": [], "ticks": 0}
    release = threading.Event()

    def on_goal(goal):
        seen["goal_threads"].append(threading.current_thread())
        return GoalResponse.ACCEPT

    def on_cancel(_handle):
        seen["cancel_threads"].append(threading.current_thread())
        release.set()
        return CancelResponse.ACCEPT

    def execute(handle):
        seen["execute_threads"].append(threading.current_thread())
        release.wait(10)  # the arm moving, until canceled
        if handle.is_cancel_requested:
            handle.canceled()
            return PickPlace.Result(success=False, message="canceled")
        handle.succeed()
        return PickPlace.Result(success=True, message=handle.request.instruction)

    group = ReentrantCallbackGroup()
    server = ActionServer(ros_node, PickPlace, "pick_place", execute, goal_callback=on_goal,
                          cancel_callback=on_cancel, callback_group=group)
    ros_node.create_timer(0.02, lambda: seen.__setitem__("ticks", seen["ticks"] + 1),
                             callback_group=group)
    client = ActionClient(ros_node, PickPlace, "pick_place")
    executor = ActionFirstExecutor(num_threads=3, context=ros_node.context)
    executor.add_node(ros_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    assert client.wait_for_server(timeout_sec=10)
    yield executor, client, seen, spinner, PickPlace
    release.set()
    executor.shutdown()
    spinner.join(5)
    client.destroy()
    server.destroy()


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_goals_and_cancels_are_answered_while_an_execute_callback_blocks(world):
    executor, client, seen, spinner, PickPlace = world
    first = client.send_goal_async(PickPlace.Goal(instruction="first"))
    assert wait_for(first.done) and first.result().accepted
    assert wait_for(lambda: seen["execute_threads"])  # now blocking a pool thread
    ticks = seen["ticks"]

    second = client.send_goal_async(PickPlace.Goal(instruction="second"))
    assert wait_for(second.done) and second.result().accepted  # answered meanwhile
    assert wait_for(lambda: seen["ticks"] >= ticks + 3)  # timers still run
    cancel = first.result().cancel_goal_async()
    assert wait_for(cancel.done)
    result = first.result().get_result_async()
    assert wait_for(result.done) and result.result().result.message == "canceled"
    second_result = second.result().get_result_async()
    assert wait_for(second_result.done) and second_result.result().result.message == "second"

    assert seen["goal_threads"] == [spinner, spinner]
    assert seen["cancel_threads"] == [spinner]
    assert all(t is not spinner for t in seen["execute_threads"])


def test_an_error_in_a_pooled_callback_is_raised_by_spin_once(ros_node):
    from cliport_executor.ros.executor import ActionFirstExecutor

    def boom():
        raise RuntimeError("a timer failed")

    ros_node.create_timer(0.01, boom)
    executor = ActionFirstExecutor(num_threads=1, context=ros_node.context)
    executor.add_node(ros_node)
    try:
        with pytest.raises(RuntimeError, match="a timer failed"):
            for _ in range(200):
                executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
