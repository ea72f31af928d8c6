"""ROS stamps (``builtin_interfaces/Time``) <-> integer nanoseconds since the epoch.

The cores compare and store stamps as integers (exact, and testable without ROS); this is
the one conversion at the message boundary. No rclpy: ``rclpy.time.Time`` refuses
negative times, and message modules are plain generated Python.
"""

from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time`` (anything with ``sec`` and ``nanosec``)."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int) -> Any:
    """The ``builtin_interfaces/Time`` of ``stamp_ns`` nanoseconds (nanosec in [0, 1e9))."""
    from builtin_interfaces.msg import Time

    return Time(sec=int(stamp_ns // NS_PER_S), nanosec=int(stamp_ns % NS_PER_S))


def copy_stamp(stamp: Any) -> Any:
    """A new ``builtin_interfaces/Time`` equal to ``stamp`` (anything with ``sec`` and
    ``nanosec``)."""
    from builtin_interfaces.msg import Time

    return Time(sec=int(stamp.sec), nanosec=int(stamp.nanosec))
