"""QoS profiles shared by publishers and the subscribers that must match them."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def latched(depth: int = 1) -> QoSProfile:
    """Reliable + transient local: a late subscriber still gets the last ``depth`` messages
    (a status, an oracle decision), as ROS 1's latched topics did."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
