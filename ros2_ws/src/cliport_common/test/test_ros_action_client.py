"""ThreadSafeActionClient: goals sent from other threads while the executor spins are all
answered, and their callbacks run on the executor thread."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def bus(ros_node):
    from rclpy.action import ActionServer, GoalResponse
    from rclpy.executors import SingleThreadedExecutor

    from cliport_common.ros.action_client import ThreadSafeActionClient
    from cliport_msgs.action import PickPlace

    node = ros_node
    received = []

    def on_goal(goal):
        received.append(goal.instruction)
        return GoalResponse.REJECT if goal.instruction.startswith("no") else GoalResponse.ACCEPT

    def execute(handle):
        handle.succeed()
        return PickPlace.Result(success=True, message=handle.request.instruction)

    server = ActionServer(node, PickPlace, "pick_place", execute, goal_callback=on_goal)
    client = ThreadSafeActionClient(node, PickPlace, "pick_place")
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    assert client.wait_for_server(timeout_sec=10)
    yield client, received, spinner, PickPlace
    executor.shutdown()
    spinner.join(5)
    client.destroy()
    server.destroy()


def test_goals_from_several_threads_are_all_answered_on_the_executor_thread(bus):
    client, received, spinner, PickPlace = bus
    lock = threading.Lock()
    answers: dict[str, tuple[bool, threading.Thread]] = {}
    results: dict[str, str] = {}

    def on_result(name, future):
        with lock:
            results[name] = future.result().result.message

    def on_answer(name, future):
        handle = future.result()
        with lock:
            answers[name] = (handle.accepted, threading.current_thread())
        if handle.accepted:  # a request made from inside a callback: the lock is re-entrant
            handle.get_result_async().add_done_callback(lambda f: on_result(name, f))

    def sender(k: int) -> None:  # paced: the goal service keeps 10 requests (its QoS depth)
        for i in range(20):
            name = f"{'no' if i % 5 == 0 else 'go'} {k}-{i}"
            client.send_goal_async(PickPlace.Goal(instruction=name),
                                   done_callback=lambda f, n=name: on_answer(n, f))
            time.sleep(0.02)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.monotonic() + 30
    while time.monotonic() < end and (len(answers) < 60 or len(results) < 48):
        time.sleep(0.05)

    assert len(received) == 60
    assert len(answers) == 60, f"{60 - len(answers)} goal responses were lost"
    assert all(thread is spinner for _, thread in answers.values())
    assert sorted(n for n, (accepted, _) in answers.items() if not accepted) == sorted(
        f"no {k}-{i}" for k in range(3) for i in range(0, 20, 5))
    assert results == {n: n for n in answers if n.startswith("go")}
