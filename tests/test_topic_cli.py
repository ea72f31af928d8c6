"""``cliport-topic`` publishes an instruction and echoes a topic across real processes."""

from __future__ import annotations

import subprocess
import sys
import time

from std_msgs.msg import String

from cliport_bringup.ros.spin import spin_until

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


def test_pub_rejects_empty_instruction():
    res = subprocess.run(CLI + ["pub", "/instruction", "  "], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "empty" in res.stderr
