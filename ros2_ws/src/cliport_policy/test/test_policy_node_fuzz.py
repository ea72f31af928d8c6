"""Fuzzed inputs over DDS: a real policy node refuses the worst heightmaps and instructions.

The checks themselves are fuzzed in ``test_node_config_fuzz.py``; here the worst cases travel
as real messages, each is refused in one line on ``policy/status``, nothing bad reaches the
agent, and the node still decides on the next valid heightmap and instruction.
"""

from __future__ import annotations

import array
import json
import math
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from cliport_common.testing import wait_until
from cliport_msgs.msg import Heightmap
from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.image_conversion import array_to_image
from cliport_perception.workspace import Workspace
from cliport_policy.agents import AgentOutput
from cliport_policy.node_config import preview


def one_line(text: str, limit: int = 600) -> None:
    assert "\n" not in text and "\r" not in text and len(text) <= limit, text


WS = Workspace()


class FakeAgent:
    """Decides the same cells on any input, and records what it was asked."""

    config = SimpleNamespace(agent="fake", pick_rotations=1, place_rotations=36)

    def __init__(self) -> None:
        self.calls: list[str] = []

    def act(self, colormap, heightmap, instruction):
        self.calls.append(instruction)
        heat = np.zeros(heightmap.shape, np.float32)
        return AgentOutput((100, 50, 0), (200, 120, 9), 0.5, 0.25, heat, heat)


def _valid_msg(node) -> Heightmap:
    rows, cols = WS.shape
    msg = to_msg(HeightmapFrame(np.zeros((rows, cols, 3), np.uint8),
                                np.full((rows, cols), 0.01, np.float32), WS))
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def _bad_heightmaps(node):
    """(what, needle of the reason, message): the worst cases, over the wire."""
    def edit(change):
        msg = _valid_msg(node)
        change(msg)
        return msg

    def truncated(m):
        m.heightmap.data = array.array("B", bytes(m.heightmap.data)[:-4])

    def huge_height(m):
        h = np.full(WS.shape, 0.01, np.float32)
        h[0, 0] = 3e38
        m.heightmap = array_to_image(h, "32FC1")

    def all_nan(m):
        m.heightmap = array_to_image(np.full(WS.shape, np.nan, np.float32), "32FC1")

    now_s = node.get_clock().now().nanoseconds // 10**9
    return [
        ("NaN bound", "workspace values must be finite",
         edit(lambda m: setattr(m, "bounds_x_max", math.nan))),
        ("huge span", "too large for a grid", edit(lambda m: (
            setattr(m, "bounds_y_min", -1e308), setattr(m, "bounds_y_max", 1e308)))),
        ("zero pixel", "pixel_size must be positive", edit(lambda m: setattr(m, "pixel_size",
                                                                            0.0))),
        ("inverted", "min < max", edit(lambda m: (setattr(m, "bounds_x_min", 0.75),
                                                  setattr(m, "bounds_x_max", 0.25)))),
        ("truncated", "truncated 32FC1", edit(truncated)),
        ("zero rows", "heightmap shape (0, 160)", edit(lambda m: (
            setattr(m.heightmap, "height", 0), setattr(m.heightmap, "data", array.array("B"))))),
        ("bgr colormap", "colormap must be rgb8", edit(lambda m: setattr(m.colormap, "encoding",
                                                                         "bgr8"))),
        ("3e38 height", "outside the workspace's z range", edit(huge_height)),
        ("all NaN", "no finite height", edit(all_nan)),
        ("float mask", "valid_mask must be mono8", edit(lambda m: setattr(
            m, "valid_mask", array_to_image(np.ones(WS.shape, np.float32), "32FC1")))),
        ("world frame", "frame 'world'", edit(lambda m: setattr(m.header, "frame_id",
                                                                "world"))),
        ("zero stamp", "stale", edit(lambda m: setattr(m.header.stamp, "sec", 0))),
        ("future stamp", "in the future", edit(lambda m: setattr(m.header.stamp, "sec",
                                                                 now_s + 3600))),
    ]


BAD_INSTRUCTIONS = [("", "empty"), (" \t\u3000 ", "empty"), ("\x1b[31mred block", "U+001B"),
                    ("\u202eput the block", "U+202E"), ("put\u2028the block", "U+2028"),
                    ("x" * 5000, "5000 characters"), ("\U0001f916\U0001f916", "no letters")]


def test_the_node_refuses_the_worst_over_dds_and_serves_the_next(ros_node):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from std_msgs.msg import String

    from cliport_policy.nodes.policy_node import STATUS_QOS, PolicyNode

    agent = FakeAgent()
    status: list[dict] = []
    ros_node.create_subscription(String, "policy/status",
                                 lambda m: status.append(json.loads(m.data)), STATUS_QOS)
    say = ros_node.create_publisher(String, "instruction", 10)
    heightmaps = ros_node.create_publisher(Heightmap, "heightmap", 2)
    policy = PolicyNode(context=ros_node.context, agent=agent,
                        parameter_overrides=[Parameter("checkpoint", value="")])
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    executor.add_node(policy)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()

    def wait(predicate, what):
        wait_until(predicate, what, poll=0.01, detail=lambda: f"status: {status[-5:]}")

    def send_heightmap(msg):
        count = policy.heightmaps_received
        for _ in range(50):  # best effort: publish again until it is in
            heightmaps.publish(msg)
            end = time.monotonic() + 0.2
            while time.monotonic() < end and policy.heightmaps_received == count:
                time.sleep(0.005)
            if policy.heightmaps_received > count:
                return
        pytest.fail("the policy node never received the heightmap")

    def answer(text) -> dict:
        say.publish(String(data=text))
        shown = preview(text)

        def final():
            return next((s for s in status if s.get("instruction") == shown
                         and s["event"] in ("refused", "decided")), None)

        wait(final, f"an answer to {shown!r}")
        return final()

    try:
        wait(lambda: any(s["event"] == "ready" for s in status), "ready")
        for i, (what, needle, msg) in enumerate(_bad_heightmaps(ros_node)):
            send_heightmap(msg)
            got = answer(f"put the red block in the green bowl ({i}: {what})")
            assert got["event"] == "refused" and needle in got["reason"], (what, got)
            one_line(got["reason"])
        for text, needle in BAD_INSTRUCTIONS:
            got = answer(text)
            assert got["event"] == "refused" and needle in got["reason"], (text, got)
        send_heightmap(_valid_msg(ros_node))
        got = answer("put the red block in the green bowl")
        assert got["event"] == "decided", got
        assert got["pick"] == [100, 50, 0] and got["place"] == [200, 120, 9]
        assert agent.calls == ["put the red block in the green bowl"]  # nothing bad reached it
    finally:
        executor.shutdown()
        spinner.join(5)
        policy.destroy_node()
