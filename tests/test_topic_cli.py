"""``cliport-topic`` publishes an instruction and echoes a topic across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from std_msgs.msg import String

from cliport_common.ros.spin import spin_until

TEXT = "put the red block in the blue bowl"
CLI = [sys.executable, "-m", "cliport_bringup.nodes.topic_cli"]


def test_pub_instruction_reaches_a_subscriber(node_runner, ros_node):
    got = []
    ros_node.create_subscription(String, "/instruction", lambda m: got.append(m.data), 10)
    node_runner.start_command("pub", CLI + ["pub", "/instruction", TEXT, "--wait", "20"])
    assert spin_until(ros_node, lambda: got, 40, None), node_runner.processes["pub"].log()
    assert got[0] == TEXT


def test_echo_prints_published_strings(node_runner, ros_node):
    proc = node_runner.start_command(
        "echo", CLI + ["echo", "/chatter", "--type", "std_msgs/msg/String", "--count", "1",
                       "--timeout", "40"])
    pub = ros_node.create_publisher(String, "/chatter", 10)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 30, None)
    end = time.monotonic() + 30
    while proc.alive() and time.monotonic() < end:
        pub.publish(String(data=TEXT))
        spin_until(ros_node, lambda: False, 0.2)
    assert proc.popen.wait(10) == 0
    assert TEXT in proc.log()


def test_echo_stopped_by_sigterm_ends_quietly(node_runner, ros_node):
    # `timeout`, systemd and docker stop send SIGTERM: rclpy shuts the context down and
    # the spin raises ExternalShutdownException, which must not become a traceback
    proc = node_runner.start_command(
        "echo", CLI + ["echo", "/chatter", "--type", "std_msgs/msg/String"])
    pub = ros_node.create_publisher(String, "/chatter", 10)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 30, None)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(20) == 0
    assert "Traceback" not in proc.log()


def test_pub_rejects_empty_instruction():
    res = subprocess.run(CLI + ["pub", "/instruction", "  "], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "empty" in res.stderr


def _one_line_error(args: list[str]) -> str:
    res = subprocess.run(CLI + args, capture_output=True, timeout=60)
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert err.startswith("cliport-topic: error: ") and err.count("\n") == 1, err
    return err


def test_pub_refuses_an_instruction_that_is_not_utf8():
    # The bytes reach the process as they would from a shell: b"\xff" in argv, which
    # Python holds as a lone surrogate (os.fsdecode) and rclpy.init() cannot encode.
    err = _one_line_error(["pub", "/instruction", os.fsdecode(b"put the \xff block in a bowl")])
    assert 'argument 3 ("put the \\xff block in a bowl") is not valid UTF-8' in err
    assert "byte 0xff at offset 8" in err


@pytest.mark.parametrize("args, needle", [
    (["pub", "/bad topic", TEXT, "--wait", "0"], "Invalid topic name"),
    (["echo", "/bad topic", "--type", "std_msgs/String", "--timeout", "1"],
     "Invalid topic name"),
    (["echo", "/chatter", "--type", "std_msgs/NoSuchType", "--timeout", "1"],
     "unknown message type 'std_msgs/NoSuchType'"),
    (["echo", os.fsdecode(b"/chatter\xfe"), "--type", "std_msgs/String"], "not valid UTF-8"),
])
def test_bad_names_and_types_are_one_line_errors(args, needle):
    assert needle in _one_line_error(args)


@pytest.mark.parametrize("module, prog", [("cliport_bringup.nodes.sim_loop", "cliport-sim-loop"),
                                          ("cliport_bringup.nodes.demo", "cliport-demo")])
def test_the_other_bringup_clis_refuse_non_utf8_arguments_alike(tmp_path, module, prog):
    out = os.fsdecode(bytes(tmp_path / "out") + b"\xff")
    res = subprocess.run([sys.executable, "-m", module, "--out", out], capture_output=True,
                         timeout=60)
    err = res.stderr.decode()
    assert res.returncode == 2 and err.startswith(f"{prog}: error: argument 2 "), err
    assert "is not valid UTF-8" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing started, nothing written
