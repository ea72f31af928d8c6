"""The recorder as a real process against the sim stack (sim node + perception), driven
through its HTTP API: steps recorded with the oracle's clicks, kill -9 mid-episode keeps
every finished episode, a restart continues; an executor that is down is reported."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from cliport_bringup.graph import load_graph
from cliport_common.ros.spin import spin_until
from cliport_sim.dataset import Dataset
from cliport_sim.episode import load_views
from cliport_teleop.testing import TEST_TOKEN, Page, free_port, recorder_spec

pytestmark = pytest.mark.timeout(300)


def oracle_step(oracle, instruction: str) -> dict:
    return {"instruction": instruction, "pick": {"u": oracle.pick_u, "v": oracle.pick_v},
            "place": {"u": oracle.place_u, "v": oracle.place_v}}


def wait(ros_node, runner, predicate, timeout=60.0) -> bool:
    return spin_until(ros_node, predicate, timeout, runner)


def test_record_kill_restart_continue(node_runner, ros_node, tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_srvs.srv import Trigger

    from cliport_msgs.msg import PickPlaceDecision

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    oracles: list = []
    ros_node.create_subscription(PickPlaceDecision, "/sim/oracle", oracles.append, latched)
    node_runner.start(load_graph("sim"))
    port = free_port()
    cams = ["front", "left", "right"]
    proc = node_runner.start_node(recorder_spec(tmp_path, port, views_cameras=cams))
    page = Page(port)
    assert wait(ros_node, node_runner, lambda: oracles and (s := page.state()) and s["grid"]
                and not s["views_missing"], 150)

    used: set = set()

    def key(o):
        return (o.header.stamp.sec, o.header.stamp.nanosec)

    def step_with_oracle() -> dict:
        """Click where the oracle says, for the scene as it is now (a fresh oracle)."""
        assert wait(ros_node, node_runner, lambda: oracles and key(oracles[-1]) not in used, 60)
        o = oracles[-1]
        used.add(key(o))
        reply = page.post("api/step", oracle_step(o, o.instruction))
        assert reply["ok"], reply
        assert wait(ros_node, node_runner, lambda: page.state()["pending"] is not None, 120)
        result = page.state()["pending"]
        assert page.post("api/accept")["ok"]
        return result | {"oracle": o}

    first = step_with_oracle()
    assert first["success"] and first["reward"] > 0, (first, page.state()["messages"])
    assert page.post("api/end")["ok"]
    # A second episode in progress when the recorder is killed.
    step_with_oracle()
    assert page.state()["episode_steps"] == 1
    os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait(10)
    node_runner.processes.pop("teleop_recorder").stop()

    root = tmp_path / "data" / "teleop-pick-place-train"
    data = Dataset(root)
    assert len(data) == 1
    ep = data.episode(0)
    o = first["oracle"]
    assert ep.pick_pix.tolist() == [[o.pick_u, o.pick_v]]
    assert ep.place_pix.tolist() == [[o.place_u, o.place_v]]
    assert ep.meta["calibration_id"] == "sim_reference" and ep.reward[1] > 0
    views = load_views(data.path(0).with_name(data.path(0).name[:-4] + "-views.npz"))
    assert views.color.shape == (2, 3, 480, 640, 3) and views.depth_mm.shape == (2, 3, 480, 640)
    assert 500 < np.median(views.depth_mm[0, 0]) < 2000  # millimetres to the table

    # Restart: the finished episode is there, the lost one is gone, recording continues.
    reset = ros_node.create_client(Trigger, "/sim/reset")
    assert wait(ros_node, node_runner, reset.service_is_ready, 10)
    f = reset.call_async(Trigger.Request())
    assert wait(ros_node, node_runner, f.done, 60) and f.result().success
    node_runner.start_node(recorder_spec(tmp_path, port, views_cameras=cams))
    assert wait(ros_node, node_runner, lambda: (s := page.state()) and s["grid"]
                and not s["views_missing"], 60)
    assert page.state()["episodes"] == 1
    assert step_with_oracle()["success"]
    assert page.post("api/end")["ok"]
    assert len(Dataset(root)) == 2


def test_an_executor_that_is_down_is_reported_and_nothing_recorded(node_runner, ros_node,
                                                                   tmp_path):
    node_runner.start(load_graph("sim"))
    port = free_port()
    node_runner.start_node(recorder_spec(tmp_path, port, action_name="/no_executor_here",
                                         server_timeout=0.5))
    page = Page(port)
    assert wait(ros_node, node_runner, lambda: (s := page.state()) and s["grid"], 150)
    step = {"instruction": "put the red block in the blue bowl", "pick": {"u": 10, "v": 10},
            "place": {"u": 20, "v": 20}}
    assert page.post("api/step", step)["ok"]
    assert wait(ros_node, node_runner, lambda: any(
        "executor is not available" in m["text"] for m in page.state()["messages"]), 30)
    state = page.state()
    assert not state["running"] and state["pending"] is None
    assert page.post("api/end")["message"].startswith("the episode has no accepted steps")
    time.sleep(0.1)


def test_binding_beyond_loopback_needs_a_token_and_warns(node_runner, tmp_path):
    """0.0.0.0 without a token: the node does not start and says why in one line. With a
    token it serves, warns, and logs the page's URL without the token."""
    refused = node_runner.start_node(recorder_spec(tmp_path, free_port(), host="0.0.0.0",
                                                   token=""))
    assert refused.popen.wait(60) == 2
    assert refused.log().strip().splitlines() == [
        "teleop_recorder: binding the teleop page to 0.0.0.0 (reachable from other machines) "
        "needs a token: set the recorder's token (at least 16 characters), or bind 127.0.0.1"]
    node_runner.processes.pop("teleop_recorder").stop()

    port = free_port()
    node_runner.start_node(recorder_spec(tmp_path, port, host="0.0.0.0",
                                         allowed_hosts=["rig-pc.example"]))
    page, proc = Page(port), node_runner.processes["teleop_recorder"]
    deadline = time.monotonic() + 60
    while "reachable from other machines" not in proc.log() and time.monotonic() < deadline:
        node_runner.check_alive()
        time.sleep(0.2)
    assert page.state() is not None
    log = proc.log()
    assert f"teleop page at http://rig-pc.example:{port}/?token=<the configured token>" in log
    assert "reachable from other machines" in log and TEST_TOKEN not in log
