"""The rehearsal graph (``twin``): real.yaml's nodes on the Franka twin, as real processes
over real DDS. The twin's camera is fused by perception with the calibration file, the
oracle's decision for the episode's instruction goes to the PickPlace server by hand
(``cliport-goal send``), where the ``moveit`` backend's sequence moves the twin's arm: the
block lands in the bowl, the episode succeeds and the heightmap shows it. A second goal,
canceled while the block is carried, ends CANCELED with the arm at rest, still holding it.

The twin renders its camera at 2 frames per simulated second here (the graph's 30 cost
~0.1 s of CPU each) and runs unpaced; the sequence, the server and the messages are the
graph's."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from cliport_bringup.graph import load_graph
from cliport_bringup.runner import GraphRunner
from cliport_common.ros.spin import spin_until
from cliport_common.stamps import stamp_to_ns

pytestmark = pytest.mark.timeout(240)
FAST = {"seed": 10003, "camera_fps": 2.0, "idle_camera_rate": 5.0, "real_time_factor": 0.0}


@pytest.fixture(scope="module")
def twin_graph(tmp_path_factory):
    graph = load_graph("twin")
    nodes = [dataclasses.replace(n, parameters=[*n.parameters, FAST]) if n.name == "twin"
             else n for n in graph.nodes]
    runner = GraphRunner(log_dir=tmp_path_factory.mktemp("twin_logs"))
    try:
        runner.start(dataclasses.replace(graph, nodes=nodes))
        yield runner
    finally:
        runner.stop()


class Listener:
    """The topics a user watches: heightmap, twin status / instruction / oracle, policy
    status, joint states."""

    def __init__(self, node) -> None:
        from sensor_msgs.msg import JointState
        from std_msgs.msg import String

        from cliport_common.ros.qos import latched
        from cliport_msgs.msg import Heightmap, PickPlaceDecision

        self.hm, self.status, self.oracle, self.instruction = [], [], [], []
        self.policy, self.joints = [], []
        node.create_subscription(Heightmap, "/heightmap", self.hm.append, 2)
        node.create_subscription(String, "/sim/status",
                                 lambda m: self.status.append(json.loads(m.data)), latched(1))
        node.create_subscription(String, "/sim/instruction",
                                 lambda m: self.instruction.append(m.data), latched(1))
        node.create_subscription(PickPlaceDecision, "/sim/oracle", self.oracle.append,
                                 latched(1))
        node.create_subscription(String, "/policy/status",
                                 lambda m: self.policy.append(json.loads(m.data)), latched(50))
        node.create_subscription(JointState, "/joint_states", self.joints.append, 10)

    def current_oracle(self):
        """The decision the latest status names (matched by stamp), or None."""
        if not self.status or not self.oracle:
            return None
        want = self.status[-1]["oracle_stamp_ns"]
        for msg in reversed(self.oracle):
            if stamp_to_ns(msg.header.stamp) == want:
                return msg
        return None


def recording(node, runner):
    """The twin's ``sim/recording`` answer: the episode's states so far."""
    from std_srvs.srv import Trigger

    from cliport_sim.recording import Recording

    client = node.create_client(Trigger, "/sim/recording")
    assert spin_until(node, client.service_is_ready, 30, runner)
    f = client.call_async(Trigger.Request())
    assert spin_until(node, f.done, 30, runner) and f.result().success, f.result()
    return Recording.from_text(f.result().message)


def _yaw_deg(pose) -> float:
    q = pose.pose.orientation
    return math.degrees(2.0 * math.atan2(q.z, q.w))


def test_rehearsal_runs_one_instruction_to_success(twin_graph, ros_node):
    from std_msgs.msg import String

    from cliport_perception.heightmap_msg import from_msg

    seen = Listener(ros_node)
    assert spin_until(ros_node, lambda: seen.hm and seen.current_oracle() and seen.instruction,
                      120, twin_graph), (len(seen.hm), len(seen.oracle), len(seen.status))
    status = seen.status[-1]
    assert status["seed"] == 10003 and not status["done"]
    instruction = seen.instruction[-1]
    oracle = seen.current_oracle()
    assert oracle.header.frame_id == "fr3_link0" and oracle.instruction == instruction
    before = from_msg(seen.hm[-1])
    assert before.frame_id == "fr3_link0" and before.heightmap.shape == (320, 160)
    assert before.workspace.pixel_size == pytest.approx(0.002)
    # the camera, placed by the calibration file, sees the block where the oracle picks it
    assert before.heightmap[oracle.pick_u, oracle.pick_v] > 0.02

    # real.yaml's policy node, with the gripper model shipped for the twin, decides on the
    # instruction; in publish mode, as on the real rig, it does not move the arm
    pub = ros_node.create_publisher(String, "/instruction", 10)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 20, twin_graph)
    assert spin_until(ros_node, lambda: any(e.get("event") == "ready" for e in seen.policy),
                      60, twin_graph), seen.policy
    pub.publish(String(data=instruction))
    assert spin_until(ros_node, lambda: any(e.get("event") == "decided" for e in seen.policy),
                      60, twin_graph), seen.policy

    # the oracle's decision, sent by hand as a user would
    pick, place = oracle.pick.pose.position, oracle.place.pose.position
    cmd = [sys.executable, "-m", "cliport_bringup.nodes.goal_cli", "send",
           "--pick-xyz", str(pick.x), str(pick.y), str(pick.z),
           "--pick-yaw", str(_yaw_deg(oracle.pick)),
           "--place-xyz", str(place.x), str(place.y), str(place.z),
           "--place-yaw", str(_yaw_deg(oracle.place)), "--instruction", instruction]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=twin_graph.env)
    assert r.returncode == 0, r.stdout + r.stderr
    phases = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("feedback:")]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "approach", "descend", "grasp", "lift", "transfer", "place", "retreat"]
    assert "result: SUCCEEDED success=True" in r.stdout and "reward=1.000" in r.stdout

    assert spin_until(ros_node, lambda: seen.status[-1]["step"] == 1, 30, twin_graph)
    status = seen.status[-1]
    assert status["done"] and status["total_reward"] > 0.99 and status["held"] == 0
    # the episode's video states: the twin's scene, the goal marked where it ended
    rec = recording(ros_node, twin_graph)
    assert (rec.robot, rec.seed, rec.instruction) == ("panda", 10003, instruction)
    assert [(e.step, e.ok) for e in rec.events] == [(1, True)]
    assert rec.events[0].total_reward > 0.99 and rec.events[0].frame == rec.n_frames - 1
    assert rec.n_frames > 10
    assert np.abs(rec.joints[rec.n_frames // 2] - rec.joints[0]).max() > 0.1  # it moved
    n = len(seen.hm)
    assert spin_until(ros_node, lambda: len(seen.hm) > n + 2, 60, twin_graph)
    after = from_msg(seen.hm[-1])
    assert after.heightmap[oracle.pick_u, oracle.pick_v] < 0.01  # the block left its cell
    assert np.abs(after.heightmap - before.heightmap).max() > 0.03


def test_cancel_mid_carry_stops_the_arm_holding_the_block(twin_graph, ros_node):
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient
    from std_srvs.srv import Trigger

    from cliport_msgs.action import PickPlace

    seen = Listener(ros_node)
    reset = ros_node.create_client(Trigger, "/sim/reset")
    assert spin_until(ros_node, reset.service_is_ready, 30, twin_graph)
    f = reset.call_async(Trigger.Request())
    assert spin_until(ros_node, f.done, 60, twin_graph) and f.result().success
    assert spin_until(ros_node, lambda: seen.status and seen.status[-1]["step"] == 0
                      and seen.current_oracle() is not None, 30, twin_graph)
    oracle = seen.current_oracle()
    rec = recording(ros_node, twin_graph)  # a new recording, of the new episode
    assert rec.robot == "panda" and rec.seed == seen.status[-1]["seed"] and not rec.events

    client = ActionClient(ros_node, PickPlace, "/pick_place")
    assert spin_until(ros_node, client.server_is_ready, 30, twin_graph)
    phases: list[int] = []
    sent = client.send_goal_async(
        PickPlace.Goal(instruction=oracle.instruction, pick=oracle.pick, place=oracle.place),
        feedback_callback=lambda m: phases.append(m.feedback.phase))
    assert spin_until(ros_node, sent.done, 30, twin_graph) and sent.result().accepted
    handle = sent.result()
    result = handle.get_result_async()
    assert spin_until(ros_node, lambda: PickPlace.Feedback.PHASE_TRANSFER in phases
                      or result.done(), 120, twin_graph)
    assert not result.done(), "the goal ended before the transfer"
    cancel = handle.cancel_goal_async()
    assert spin_until(ros_node, result.done, 60, twin_graph) and cancel.done()
    assert result.result().status == GoalStatus.STATUS_CANCELED
    assert result.result().result.error_code == PickPlace.Result.ERROR_CANCELED

    # the step is booked with the block still in the hand, and the arm is at rest
    assert spin_until(ros_node, lambda: seen.status[-1]["step"] == 1, 30, twin_graph)
    assert seen.status[-1]["held"] == 1 and seen.status[-1]["total_reward"] == 0.0
    n = len(seen.joints)
    assert spin_until(ros_node, lambda: len(seen.joints) > n + 2, 30, twin_graph)
    js = seen.joints[-1]
    assert len(js.name) == 9 and js.name[0] == "fr3_joint1"
    assert max(abs(v) for v in js.velocity[:7]) < 0.01  # rad/s
    assert js.position[7] + js.position[8] > 0.02  # the fingers close on the block
