"""The policy node as real processes: Heightmap + instruction in -> decision out.

One module-scoped set of processes serves every case (a policy load costs seconds here):
``policy`` (publish mode, root namespace), ``policy_exec`` (execute mode, namespace ``arm``,
against a dry-run ``pick_place_server`` the test starts later) and ``broken`` (no
checkpoint, namespace ``broken``). The test process feeds heightmaps at 10 Hz, as perception
would, and reads ``policy/status`` (one JSON object per event), the decisions, the heatmap
images and the markers.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from cliport_bringup.graph import NodeSpec
from cliport_bringup.runner import GraphRunner
from cliport_common.ros.spin import spin_until
from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.workspace import Workspace
from cliport_policy.poses import SURFACE_RADIUS_M

pytestmark = pytest.mark.timeout(180)

INSTRUCTION = "put the red block in the blue bowl"
NAMESPACES = ("", "arm", "broken")
WS = Workspace()


def scene(heights: float | None = None, frame_id: str = "base", workspace: Workspace = WS
          ) -> HeightmapFrame:
    """A red block and a blue bowl on a grey table; heights vary per cell (a ramp), so a
    pose's z names the cell it was read from."""
    rows, cols = workspace.shape
    colormap = np.full((rows, cols, 3), 90, np.uint8)
    u, v = np.mgrid[0:rows, 0:cols]
    hm = (0.002 + 0.0005 * (u % 64) + 0.0003 * (v % 32)).astype(np.float32)
    colormap[100:116, 60:76] = (200, 30, 30)
    hm[100:116, 60:76] += 0.04
    colormap[200:230, 90:120] = (30, 30, 200)
    if heights is not None:
        hm[:] = heights
    return HeightmapFrame(colormap, hm, workspace, valid=np.ones((rows, cols), bool),
                          frame_id=frame_id)


def topic(ns: str, name: str) -> str:
    return f"/{ns}/{name}" if ns else f"/{name}"


class Bus:
    """The test's side of the graph: heightmap feed, instruction publishers, recordings."""

    def __init__(self, node, runner: GraphRunner) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        from cliport_msgs.msg import Heightmap, PickPlaceDecision

        self.node, self.runner = node, runner
        self.String = String
        self.status: dict[str, list[dict]] = {ns: [] for ns in NAMESPACES}
        self.decisions: dict[str, list] = {ns: [] for ns in NAMESPACES}
        self.images: dict[str, list] = {"pick": [], "place": []}
        self.markers: list = []
        self.sent_stamps: set[tuple[int, int]] = set()
        self.instruction_pubs = {ns: node.create_publisher(String, topic(ns, "instruction"), 10)
                                 for ns in NAMESPACES}
        self.heightmap_pubs = [node.create_publisher(Heightmap, topic(ns, "heightmap"), 2)
                               for ns in ("", "arm")]
        status_qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)
        for ns in NAMESPACES:
            node.create_subscription(String, topic(ns, "policy/status"),
                                     lambda m, ns=ns: self.status[ns].append(json.loads(m.data)),
                                     status_qos)
            node.create_subscription(PickPlaceDecision, topic(ns, "policy/decision"),
                                     self.decisions[ns].append, 10)
        for which in ("pick", "place"):
            node.create_subscription(Image, f"/policy/{which}_heatmap",
                                     self.images[which].append, 5)
        node.create_subscription(MarkerArray, "/policy/markers", self.markers.append, 5)
        self.set_heightmap(scene())
        node.create_timer(0.1, self._feed)

    def set_heightmap(self, frame: HeightmapFrame, age: float = 0.0) -> None:
        self.frame, self.msg, self.age = frame, to_msg(frame), age

    def _feed(self) -> None:
        now = self.node.get_clock().now().nanoseconds - int(self.age * 1e9)
        self.msg.header.stamp.sec, self.msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        self.sent_stamps.add((self.msg.header.stamp.sec, self.msg.header.stamp.nanosec))
        for pub in self.heightmap_pubs:
            pub.publish(self.msg)

    def settle(self, seconds: float = 0.5) -> None:
        """Spin long enough for the nodes to hold the newest heightmap."""
        end = time.monotonic() + seconds
        spin_until(self.node, lambda: time.monotonic() > end, seconds + 5, self.runner)

    def say(self, text: str, ns: str = "") -> None:
        self.instruction_pubs[ns].publish(self.String(data=text))

    def wait(self, predicate, timeout: float = 60.0, what: str = "") -> None:
        if not spin_until(self.node, predicate, timeout, self.runner):
            logs = "\n".join(f"--- {n}:\n{p.log()[-3000:]}"
                             for n, p in self.runner.processes.items())
            pytest.fail(f"timed out waiting for {what}\n{logs}")

    def wait_decision(self, ns: str, instruction: str, timeout: float = 30.0):
        """The decision for ``instruction``: its status event and the message travel on two
        topics, so the message may arrive after the 'decided' event."""
        def found():
            return [d for d in self.decisions[ns] if d.instruction == instruction]
        self.wait(lambda: bool(found()), timeout, f"the decision for {instruction!r} in /{ns}")
        return found()[0]

    def events(self, ns: str, instruction: str) -> list[dict]:
        return [s for s in self.status[ns] if s.get("instruction") == instruction]

    def wait_event(self, ns: str, instruction: str, event: str, timeout: float = 60.0) -> dict:
        def found():
            return [s for s in self.events(ns, instruction) if s["event"] == event]
        self.wait(lambda: bool(found()), timeout, f"{event!r} for {instruction!r} in /{ns}")
        return found()[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny CLIPort checkpoint (seeded), and the agent it holds."""
    import torch

    from cliport_policy.agents import make_agent
    from cliport_policy.checkpoint import save_checkpoint
    from cliport_policy.config import load_policy_config

    cfg = load_policy_config("tiny")
    torch.manual_seed(0)
    agent = make_agent(cfg.model)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", agent, 0)
    return path, agent


@pytest.fixture(scope="module")
def bus(tmp_path_factory, tiny):
    import rclpy
    from rclpy.context import Context

    ckpt, _ = tiny
    runner = GraphRunner(log_dir=tmp_path_factory.mktemp("node_logs"))
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("test_policy_node", context=context)
    try:
        bus = Bus(node, runner)
        common = {"checkpoint": str(ckpt), "max_heightmap_age": 2.0}
        for name, ns, params in (
                ("policy", "", common),
                ("policy_exec", "arm", {**common, "mode": "execute", "server_wait": 1.5}),
                ("broken", "broken", {"checkpoint": ""})):
            runner.start_node(NodeSpec(name=name, package="cliport_policy",
                                       executable="policy_node", namespace=f"/{ns}" if ns else "",
                                       parameters=[params]))

        # Each node is up and subscribed once it answers an empty instruction.
        last_probe = [0.0]

        def refusal(ns):
            return [s for s in bus.status[ns] if s["event"] == "refused"]

        def answered():
            if time.monotonic() - last_probe[0] > 0.5:
                last_probe[0] = time.monotonic()
                for ns in NAMESPACES:
                    if not refusal(ns):
                        bus.say("", ns)
            return all(refusal(ns) for ns in NAMESPACES)

        bus.wait(answered, 60, "the policy nodes to answer")
        for ns in NAMESPACES:
            assert refusal(ns)[0]["reason"] == "instruction is empty"

        def loaded():
            return all(any(s["event"] in ("ready", "load_failed") for s in bus.status[ns])
                       for ns in NAMESPACES)

        bus.wait(loaded, 60, "the policies to load")
        assert [s["event"] for s in bus.status["broken"] if s["event"] != "refused"] == \
            ["load_failed"]
        yield bus
    finally:
        runner.stop()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_decision_from_a_heightmap_and_an_instruction(bus, tiny):
    from cliport_policy.poses import decision_poses

    _, agent = tiny
    frame = bus.frame
    bus.say(INSTRUCTION)
    decided = bus.wait_event("", INSTRUCTION, "decided")
    assert [s["event"] for s in bus.events("", INSTRUCTION)] == ["accepted", "decided"]
    d = bus.wait_decision("", INSTRUCTION)

    # The cells are what the same checkpoint decides on the same heightmap.
    local = agent.act(frame.colormap, frame.heightmap, INSTRUCTION)
    assert (d.pick_u, d.pick_v, d.pick_rotation_bin) == local.pick
    assert (d.place_u, d.place_v, d.place_rotation_bin) == local.place
    assert decided["pick"] == list(local.pick) and decided["place"] == list(local.place)
    assert d.pick_score == pytest.approx(local.pick_score, rel=1e-4)
    assert d.place_score == pytest.approx(local.place_score, rel=1e-4)
    assert d.policy == "cliport" and d.n_rotations == agent.config.place_rotations == 36
    assert 0 < d.inference_time < 30

    # The poses are decision_poses of the cells, z read from the heightmap, in the base frame.
    pick, place = decision_poses(WS, frame.heightmap, local.pick, local.place,
                                 agent.config.pick_rotations, agent.config.place_rotations)
    for msg, (pos, quat) in ((d.pick, pick), (d.place, place)):
        assert msg.header.frame_id == "base"
        p, o = msg.pose.position, msg.pose.orientation
        np.testing.assert_allclose([p.x, p.y, p.z], pos, atol=1e-9)
        np.testing.assert_allclose([o.x, o.y, o.z, o.w], quat, atol=1e-9)
    # z: the highest reading within SURFACE_RADIUS_M of the pick cell (over depth holes)
    r = round(SURFACE_RADIUS_M / WS.pixel_size)
    u, v = d.pick_u, d.pick_v
    window = frame.heightmap[max(0, u - r): u + r + 1, max(0, v - r): v + r + 1]
    assert d.pick.pose.position.z == pytest.approx(float(window.max()))
    assert d.header.frame_id == "base"
    stamp = (d.heightmap_stamp.sec, d.heightmap_stamp.nanosec)
    assert stamp in bus.sent_stamps and (d.pick.header.stamp.sec,
                                         d.pick.header.stamp.nanosec) == stamp

    # Heatmap overlays for RViz: rgb8, 2x the grid, the chosen cell crossed in cyan.
    def image_of(which):
        return [m for m in bus.images[which] if m.header.stamp == d.header.stamp]

    bus.wait(lambda: image_of("pick") and image_of("place"), 10, "heatmap images")
    from cliport_perception.image_conversion import image_to_array

    for which, (u, v) in (("pick", (d.pick_u, d.pick_v)), ("place", (d.place_u, d.place_v))):
        img = image_of(which)[0]
        assert img.encoding == "rgb8" and (img.height, img.width) == (640, 320)
        assert image_to_array(img)[2 * u, 2 * v].tolist() == [0, 255, 255]
    bus.wait(lambda: bus.markers, 10, "markers")
    arrows = bus.markers[-1].markers
    assert [m.id for m in arrows] == [0, 1, 2, 3] and arrows[3].text == INSTRUCTION
    assert arrows[0].pose.position.x == pytest.approx(pick[0][0])
    assert arrows[1].pose.orientation.z == pytest.approx(place[1][2])


def test_bad_instructions_are_refused_and_the_node_keeps_serving(bus):
    bad = {"": "instruction is empty",
           " \t \n ": "instruction is empty",
           "x" * 10_000: "has 10000 characters; at most 256",
           "put the red block\x07 in the blue bowl": "U+0007",
           "put the \x1b[31mred\x1b[0m block in the blue bowl": "U+001B",
           "put the red\u200b block in the blue bowl": "U+200B"}
    good = "pack the red block into the blue bowl"
    start = len(bus.status[""])
    n_decisions = len(bus.decisions[""])
    for text in bad:
        bus.say(text)
    bus.say(good)
    bus.wait_event("", good, "decided")
    bus.wait_decision("", good)
    new = bus.status[""][start:]
    refused = [s for s in new if s["event"] == "refused"]
    assert len(refused) == len(bad)
    for status, (text, needle) in zip(refused, bad.items(), strict=True):
        assert needle in status["reason"], (status, text)
        assert len(status["instruction"]) < 120  # a 10 kB instruction is not echoed whole
    assert [d.instruction for d in bus.decisions[""][n_decisions:]] == [good]


@pytest.mark.parametrize("case, needle", [
    ("stale", "stale: "),
    ("future", "in the future"),
    ("frame", "frame 'camera_link', not the base frame 'base'"),
    ("nan", "no finite height"),
    ("grid", "grid is 160x80; the policy expects 320x160"),
    ("unseen", "no camera saw any cell"),
    ("outside", "outside the workspace"),
])
def test_unusable_heightmaps_and_decisions_are_refused(bus, case, needle):
    frame, age = scene(), 0.0
    if case == "stale":
        age = 30.0
    elif case == "future":
        age = -30.0
    elif case == "frame":
        frame = scene(frame_id="camera_link")
    elif case == "nan":
        frame = scene(heights=np.nan)
    elif case == "grid":
        frame = scene(workspace=Workspace(pixel_size=0.00625))
    elif case == "unseen":
        frame.valid[:] = False
    elif case == "outside":
        frame = scene(heights=0.5)  # every cell above z_max: any decision leaves the box
    bus.set_heightmap(frame, age)
    try:
        bus.settle()
        text = f"{INSTRUCTION} ({case})"
        bus.say(text)
        status = bus.wait_event("", text, "refused", timeout=30)
        assert needle in status["reason"], status
        assert not [d for d in bus.decisions[""] if d.instruction == text]
    finally:
        bus.set_heightmap(scene())


def test_busy_queues_the_latest_instruction(bus):
    bus.settle(0.3)
    first, second, third = (f"{INSTRUCTION} #{i}" for i in (1, 2, 3))
    for text in (first, second, third):
        bus.say(text)
    bus.wait_event("", third, "decided")
    bus.wait_decision("", third)
    assert [s["event"] for s in bus.events("", first)] == ["accepted", "decided"]
    assert [s["event"] for s in bus.events("", second)] == ["queued", "superseded"]
    assert [s["event"] for s in bus.events("", third)] == ["queued", "decided"]
    decided = [d.instruction for d in bus.decisions[""] if d.instruction.startswith(INSTRUCTION)
               and "#" in d.instruction]
    assert decided == [first, third]


def test_execute_mode_sends_the_goal_to_the_executor(bus, node_runner):
    from rclpy.action import ActionClient

    from cliport_msgs.action import PickPlace

    bus.settle(0.3)
    # No server yet: the decision is published, the missing server reported, the node serves on.
    lonely = f"{INSTRUCTION} (no arm)"
    bus.say(lonely, "arm")
    status = bus.wait_event("arm", lonely, "server_unavailable")
    assert "no PickPlace action server 'pick_place'" in status["reason"]
    bus.wait_decision("arm", lonely)
    assert [d.instruction for d in bus.decisions["arm"]] == [lonely]

    node_runner.start_node(NodeSpec(name="pick_place_server", package="cliport_executor",
                                    executable="pick_place_server", namespace="/arm",
                                    parameters=[{"backend": "dryrun",
                                                 "dryrun.phase_duration": 0.05}]))
    client = ActionClient(bus.node, PickPlace, "/arm/pick_place")
    try:
        bus.wait(client.server_is_ready, 30, "the dry-run server")
        # The policy process discovers the server on its own; under load that can take longer
        # than its server_wait, so an instruction may still meet "server_unavailable".
        for attempt in range(5):
            text = f"{INSTRUCTION} (try {attempt})"
            bus.say(text, "arm")
            bus.wait(lambda t=text: any(s["event"] in ("server_unavailable", "goal_succeeded",
                                                        "goal_failed", "goal_rejected")
                                        for s in bus.events("arm", t)), 60, f"{text!r} done")
            if [s for s in bus.events("arm", text) if s["event"] == "goal_succeeded"]:
                break
        done = bus.wait_event("arm", text, "goal_succeeded")
        assert [s["event"] for s in bus.events("arm", text)] == \
            ["accepted", "decided", "goal_accepted", "goal_succeeded"]
        assert done["status"] == "SUCCEEDED" and done["error_code"] == "NONE"
        d = bus.wait_decision("arm", text)
        assert d.pick.header.frame_id == "base"
        assert "PickPlace done: success=True" in node_runner.processes["pick_place_server"].log()
    finally:
        client.destroy()


def test_no_checkpoint_refuses_with_the_reason(bus):
    bus.say(INSTRUCTION, "broken")
    status = bus.wait_event("broken", INSTRUCTION, "refused", timeout=30)
    assert status["reason"].startswith("no policy loaded: no checkpoint configured: set the "
                                       "'checkpoint' parameter")
    bus.runner.check_alive()
    assert "load_failed" in bus.runner.processes["broken"].log()


def test_a_bad_parameter_exits_with_a_clear_message(node_runner):
    proc = node_runner.start_node(NodeSpec(name="bad_policy", package="cliport_policy",
                                           executable="policy_node",
                                           parameters=[{"mode": "fly"}]))
    assert proc.popen.wait(60) == 2
    assert "policy_node: invalid configuration: policy_node.mode must be one of " \
           "('publish', 'execute'), got 'fly'" in proc.log()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
