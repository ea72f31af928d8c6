"""The policy node in this process with a fake agent: execute-mode goals that are rejected or
never finish (goal_timeout -> cancel), the goal sent before the decision is announced, and
off-task warnings. The scheduling rules themselves are unit-tested in test_scheduler.py.

No model is loaded, so these cases take well under a second each; the real checkpoint and
real processes are covered by test_policy_node.py.
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.workspace import Workspace
from cliport_policy.agents import AgentOutput

pytestmark = pytest.mark.timeout(60)

WS = Workspace()


class FakeAgent:
    config = SimpleNamespace(agent="fake", pick_rotations=1, place_rotations=36)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []

    def act(self, colormap, heightmap, instruction):
        self.calls.append(instruction)
        time.sleep(self.delay)
        if "boom" in instruction:
            raise RuntimeError("boom")
        heat = np.zeros(heightmap.shape, np.float32)
        return AgentOutput((100, 50, 0), (200, 120, 9), 0.5, 0.25, heat, heat)


def until(predicate, timeout: float = 5.0) -> bool:
    """Whether ``predicate()`` comes true within ``timeout`` s (for the node's own threads,
    where a test failure cannot be raised)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


class Graph:
    """A PolicyNode, a test node (heightmap feed, instructions, status) and optionally a fake
    PickPlace server, all on one single-threaded executor in a background thread."""

    def __init__(self, params: dict, agent: FakeAgent, server: dict | None = None) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from std_msgs.msg import String

        from cliport_msgs.msg import Heightmap
        from cliport_policy.nodes.policy_node import STATUS_QOS, PolicyNode

        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.status: list[dict] = []
        self.test = rclpy.create_node("policy_test", context=self.context)
        self.test.create_subscription(String, "policy/status",
                                      lambda m: self.status.append(json.loads(m.data)),
                                      STATUS_QOS)
        self.say_pub = self.test.create_publisher(String, "instruction", 10)
        hm_pub = self.test.create_publisher(Heightmap, "heightmap", 2)
        rows, cols = WS.shape
        msg = to_msg(HeightmapFrame(np.zeros((rows, cols, 3), np.uint8),
                                    np.full((rows, cols), 0.01, np.float32), WS))

        def feed():
            msg.header.stamp = self.test.get_clock().now().to_msg()
            hm_pub.publish(msg)

        self.test.create_timer(0.05, feed)
        self.String = String
        self.nodes = [self.test]
        self.server = None
        if server is not None:
            self.server = self._server(server)
            self.nodes.append(self.server)
        self.policy = PolicyNode(context=self.context, agent=agent, parameter_overrides=[
            Parameter(k, value=v) for k, v in params.items()])
        self.nodes.append(self.policy)
        for node in self.nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        self.wait(lambda: any(s["event"] == "ready" for s in self.status), "ready")

    def _server(self, behaviour: dict):
        import rclpy
        from rclpy.action import ActionServer, CancelResponse, GoalResponse

        from cliport_msgs.action import PickPlace

        node = rclpy.create_node("fake_pick_place", context=self.context)
        behaviour.setdefault("goals", [])
        behaviour.setdefault("cancels", 0)

        def on_goal(goal):
            behaviour["goals"].append(goal)
            return GoalResponse.REJECT if behaviour["mode"] == "reject" else GoalResponse.ACCEPT

        def on_cancel(_handle):
            behaviour["cancels"] += 1
            return CancelResponse.ACCEPT

        # "hang": accepted goals are never executed, so they never finish.
        node._action_server = ActionServer(
            node, PickPlace, "pick_place", execute_callback=lambda h: PickPlace.Result(),
            goal_callback=on_goal, cancel_callback=on_cancel,
            handle_accepted_callback=lambda h: None)
        return node

    def say(self, text: str) -> None:
        self.say_pub.publish(self.String(data=text))

    def wait(self, predicate, what: str, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}; status: {self.status}")

    def events(self, instruction: str) -> list[str]:
        return [s["event"] for s in self.status if s.get("instruction") == instruction]

    def wait_event(self, instruction: str, event: str) -> dict:
        self.wait(lambda: event in self.events(instruction), f"{event} for {instruction!r}")
        return next(s for s in self.status
                    if s.get("instruction") == instruction and s["event"] == event)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.thread.join(5)
        for node in reversed(self.nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def make_graph():
    graphs = []

    def make(params, agent, server=None):
        g = Graph(params, agent, server)
        graphs.append(g)
        # Instructions only after the policy holds a heightmap.
        g.wait(lambda: g.policy.heightmaps_received > 0, "a heightmap")
        return g

    yield make
    for g in graphs:
        g.close()


def test_rejected_and_hanging_goals_do_not_stall_the_node(make_graph):
    server = {"mode": "reject"}
    agent = FakeAgent()
    g = make_graph({"mode": "execute", "goal_timeout": 0.5, "checkpoint": ""}, agent, server)
    g.say("rejected one")
    status = g.wait_event("rejected one", "goal_rejected")
    assert "rejected the goal" in status["reason"]
    goal = server["goals"][0]
    assert goal.instruction == "rejected one" and goal.pick.header.frame_id == "base"
    x, y = WS.pixel_to_xy(100, 50)
    assert (goal.pick.pose.position.x, goal.pick.pose.position.y) == pytest.approx((x, y))

    server["mode"] = "hang"
    g.say("hanging one")
    g.say("queued one")  # waits while the goal runs
    timeout = g.wait_event("hanging one", "goal_timeout")
    assert "goal_timeout 0.5 s; cancel requested" in timeout["reason"]
    assert g.events("hanging one") == ["accepted", "decided", "goal_accepted", "goal_timeout"]
    g.wait(lambda: server["cancels"] == 1, "the cancel request at the server")
    g.wait_event("queued one", "goal_accepted")  # acted on after the first goal ended
    assert g.events("queued one")[:3] == ["queued", "decided", "goal_accepted"]
    assert agent.calls == ["rejected one", "hanging one", "queued one"]


def test_the_goal_goes_before_the_announcement_and_no_callback_waits_for_it(make_graph):
    """The worker sends the goal before it announces the decision, so announcing cannot
    delay the goal. While the announcement is held, the server gets the goal and answers,
    and the executor thread keeps receiving heightmaps: no callback waits for the
    announcement. The status order still is decided, then the goal's answer."""
    server = {"mode": "reject"}
    g = make_graph({"mode": "execute", "checkpoint": ""}, FakeAgent(), server)
    seen = {}
    announce = g.policy._announce

    def held_announce(job, *args):
        seen["goal at the server"] = until(lambda: server["goals"])
        count = g.policy.heightmaps_received
        seen["heightmaps meanwhile"] = until(lambda: g.policy.heightmaps_received >= count + 3)
        announce(job, *args)

    g.policy._announce = held_announce
    text = "put the red block in the green bowl"
    g.say(text)
    g.wait_event(text, "goal_rejected")
    assert seen == {"goal at the server": True, "heightmaps meanwhile": True}
    assert g.events(text) == ["accepted", "decided", "goal_rejected"]


def test_a_failed_announcement_is_reported_and_the_goal_still_goes(make_graph):
    server = {"mode": "reject"}
    g = make_graph({"mode": "execute", "checkpoint": ""}, FakeAgent(), server)

    def failing_announce(*_args):
        raise RuntimeError("no heatmap today")

    g.policy._announce = failing_announce
    g.say("put the red block in the green bowl")
    failed = g.wait_event("put the red block in the green bowl", "announce_failed")
    assert "RuntimeError: no heatmap today" in failed["reason"]
    g.wait_event("put the red block in the green bowl", "goal_rejected")
    assert len(server["goals"]) == 1
    assert "refused" not in g.events("put the red block in the green bowl")


def test_an_instruction_of_another_task_is_warned_about_once(make_graph):
    """The checkpoint was trained on put-block-in-bowl: a stack-block-pyramid instruction is
    acted on (the user asked) but flagged, once per instruction."""
    agent = FakeAgent()
    agent.train_tasks = ["put-block-in-bowl-seen-colors"]
    g = make_graph({"checkpoint": ""}, agent)
    g.say("put the red blocks in a green bowl")
    g.wait_event("put the red blocks in a green bowl", "decided")
    assert "off_task" not in g.events("put the red blocks in a green bowl")
    other = "put the red block on the lightest brown block"
    g.say(other)
    warning = g.wait_event(other, "off_task")
    assert "stack-block-pyramid-seq" in warning["reason"]
    assert "trained on put-block-in-bowl-seen-colors" in warning["reason"]
    g.wait_event(other, "decided")
    g.wait(lambda: g.policy.jobs.busy_reason() is None, "the node to be free again")
    g.say(other)
    g.wait(lambda: g.events(other).count("decided") == 2, "the second decision")
    assert g.events(other).count("off_task") == 1
