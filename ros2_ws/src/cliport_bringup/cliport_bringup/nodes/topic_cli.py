"""``cliport-topic``: the ``ros2 topic pub`` / ``echo`` subset this stack needs.

``ros2cli`` is not installable from PyPI, so on such machines::

    cliport-topic pub /instruction "put the red block in the blue bowl"
    cliport-topic echo /instruction --count 1

Both run on ``--domain-id N`` (the ``ROS_DOMAIN_ID`` that ``cliport-run`` printed), else on
``$ROS_DOMAIN_ID``, else on ROS 2's default domain 0. ``pub`` sends a ``std_msgs/String``
(the instruction) and waits until a subscriber has matched (or ``--wait`` seconds pass) so
the message is not lost; when nothing subscribed it says so (exit code 1), naming the
domain. ``echo`` prints each message of a topic, latched ones too (a topic whose publishers
are transient-local, such as ``/policy/status``, is subscribed that way, so the last
messages published before it started are shown); its type is found on the graph or given
with ``--type pkg/msg/Type``. Bad input (an argument that is not UTF-8, an invalid topic
name, an unknown type) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from cliport_bringup.ros_env import apply_local_ros_env, undecodable_argument

MAX_INSTRUCTION_CHARS = 4096
DOMAIN_HELP = ("the ROS_DOMAIN_ID cliport-run printed (default: $ROS_DOMAIN_ID, else 0, "
               "ROS 2's default)")


def domain_id(given: int | None) -> int:
    """``--domain-id``, else ``$ROS_DOMAIN_ID``, else 0: never a domain of its own."""
    if given is not None:
        return given
    env = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if not env:
        return 0
    try:
        return int(env)
    except ValueError:
        raise UsageError(f"ROS_DOMAIN_ID={env!r} is not a number") from None


class UsageError(ValueError):
    """Input this tool refuses: reported as one line, exit code 2."""


def message_class(type_name: str):
    """``std_msgs/msg/String`` or ``std_msgs/String`` -> the message class."""
    parts = type_name.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"bad message type {type_name!r}; expected pkg/msg/Type")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"unknown message type {type_name!r}: {exc}") from None


def _init():
    """rclpy initialised without the process's argv: its arguments are this tool's, and
    rclpy.init() would encode each one as UTF-8 (no --ros-args are accepted anyway)."""
    import rclpy

    rclpy.init(args=[])
    return rclpy


def _checked_name(make, *args):
    """Create a publisher or subscription; an invalid topic name is a UsageError."""
    from rclpy.exceptions import NameValidationException

    try:
        return make(*args)
    except NameValidationException as exc:
        raise UsageError(str(exc).splitlines()[0].rstrip(":")) from None


def _pub(args) -> int:
    from std_msgs.msg import String

    text = args.text
    if not text.strip():
        raise UsageError("the instruction is empty")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise UsageError(f"the instruction has {len(text)} characters "
                         f"(max {MAX_INSTRUCTION_CHARS})")
    rclpy = _init()
    try:
        node = rclpy.create_node("cliport_topic_pub")
        pub = _checked_name(node.create_publisher, String, args.topic, 10)
        deadline = time.monotonic() + args.wait
        while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        matched = pub.get_subscription_count()
        for _ in range(args.times):
            pub.publish(String(data=text))
            rclpy.spin_once(node, timeout_sec=0.05)
        time.sleep(0.2)  # let reliable delivery finish before the participant goes away
        print(f"published on {args.topic} ({matched} subscriber(s)): {text!r}")
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    if matched == 0:
        print(f"cliport-topic: warning: nothing subscribes to {args.topic} on ROS_DOMAIN_ID "
              f"{os.environ['ROS_DOMAIN_ID']} (waited {args.wait:g} s): the message went "
              f"nowhere. Pass the ROS_DOMAIN_ID that cliport-run printed with --domain-id",
              file=sys.stderr)
        return 1
    return 0


def subscription_qos(node, topic: str, wait: float):
    """QoS that receives what the topic's publishers offer: transient-local (latched) when
    they all keep their last messages, best-effort when any publishes best-effort."""
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.validate_topic_name import validate_topic_name

    validate_topic_name(topic)  # an invalid name is the usage error a subscription gives
    deadline = time.monotonic() + wait
    infos = node.get_publishers_info_by_topic(topic)
    while not infos and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
        infos = node.get_publishers_info_by_topic(topic)
    qos = QoSProfile(depth=100)
    if infos and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                     for i in infos):
        qos.durability = DurabilityPolicy.TRANSIENT_LOCAL
    if any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos):
        qos.reliability = ReliabilityPolicy.BEST_EFFORT
    return qos


def _echo(args) -> int:
    rclpy = _init()
    from rclpy.executors import ExternalShutdownException

    try:
        node = rclpy.create_node("cliport_topic_echo")
        type_name = args.type
        deadline = time.monotonic() + args.wait
        while type_name is None:
            found = dict(node.get_topic_names_and_types()).get(args.topic)
            if found:
                type_name = found[0]
            elif time.monotonic() > deadline:
                print(f"error: no publisher of {args.topic} seen in {args.wait} s; "
                      f"give --type", file=sys.stderr)
                return 1
            else:
                rclpy.spin_once(node, timeout_sec=0.1)
        cls = message_class(type_name)
        received = []

        def show(msg) -> None:
            received.append(msg)
            text = msg.data if hasattr(msg, "data") and isinstance(msg.data, str) else msg
            print(text, flush=True)

        qos = _checked_name(subscription_qos, node, args.topic, args.wait)
        _checked_name(node.create_subscription, cls, args.topic, show, qos)
        end = time.monotonic() + args.timeout if args.timeout else None
        while args.count == 0 or len(received) < args.count:
            rclpy.spin_once(node, timeout_sec=0.1)
            if end is not None and time.monotonic() > end:
                return 0 if received else 1
        node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):  # Ctrl-C, or SIGTERM (timeout)
        pass
    finally:
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cliport-topic", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pub", help="publish an instruction (std_msgs/String)")
    p.add_argument("topic")
    p.add_argument("text")
    p.add_argument("--wait", type=float, default=3.0, help="seconds to wait for a subscriber")
    p.add_argument("--times", type=int, default=1)
    p.add_argument("--domain-id", type=int, help=DOMAIN_HELP)
    e = sub.add_parser("echo", help="print the messages of a topic")
    e.add_argument("topic")
    e.add_argument("--type", help="pkg/msg/Type (default: looked up on the graph)")
    e.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    e.add_argument("--timeout", type=float, default=0.0, help="stop after T seconds (0: never)")
    e.add_argument("--wait", type=float, default=5.0,
                   help="seconds to find the topic's type and publishers")
    e.add_argument("--domain-id", type=int, help=DOMAIN_HELP)
    args = parser.parse_args(argv)
    try:
        problem = undecodable_argument(sys.argv[1:] if argv is None else argv)
        if problem:
            raise UsageError(problem)
        apply_local_ros_env(domain_id=domain_id(args.domain_id))
        return _pub(args) if args.cmd == "pub" else _echo(args)
    except UsageError as exc:
        print(f"cliport-topic: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
