"""``cliport-topic`` on the right domain: ``--domain-id``, ``$ROS_DOMAIN_ID`` or 0; a message
published into nothing is said so; ``echo`` shows latched messages sent before it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from std_msgs.msg import String

from cliport_bringup.nodes.topic_cli import UsageError, domain_id
from cliport_common.ros.spin import spin_until

CLI = [sys.executable, "-m", "cliport_bringup.nodes.topic_cli"]


def test_the_domain_is_the_given_one_else_the_environments_else_0(monkeypatch):
    monkeypatch.setenv("ROS_DOMAIN_ID", "43")
    assert domain_id(7) == 7 and domain_id(None) == 43
    monkeypatch.delenv("ROS_DOMAIN_ID")
    assert domain_id(None) == 0  # ROS 2's default, not a domain of its own
    monkeypatch.setenv("ROS_DOMAIN_ID", "x")
    with pytest.raises(UsageError, match="not a number"):
        domain_id(None)


def test_publishing_into_nothing_is_a_warning_naming_the_domain():
    quiet = (int(os.environ.get("ROS_DOMAIN_ID", "0")) + 50) % 100 + 1  # nobody there
    res = subprocess.run(CLI + ["pub", "/instruction", "put the red block in the blue bowl",
                                "--wait", "0.5", "--domain-id", str(quiet)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    assert (f"warning: nothing subscribes to /instruction on ROS_DOMAIN_ID {quiet}"
            in res.stderr) and "--domain-id" in res.stderr


def test_echo_shows_a_latched_message_published_before_it_started(ros_node):
    from cliport_common.ros.qos import latched

    pub = ros_node.create_publisher(String, "/latched_status", latched(5))
    pub.publish(String(data='{"event": "ready"}'))
    spin_until(ros_node, lambda: False, 0.3)
    proc = subprocess.Popen(CLI + ["echo", "/latched_status", "--count", "1", "--timeout",
                                   "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    end = time.monotonic() + 40
    while proc.poll() is None and time.monotonic() < end:
        spin_until(ros_node, lambda: False, 0.2)  # keep the publisher serving
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert '{"event": "ready"}' in out
