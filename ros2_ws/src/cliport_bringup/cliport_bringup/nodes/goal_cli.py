"""``cliport-goal``: one ``PickPlace`` goal by hand, from heightmap cells or base-frame poses.

    cliport-goal cell 160 80 --workspace franka.yaml --z 0.02      # a cell -> x, y, z
    cliport-goal line --pick-cell 150 60 --place-cell 200 90 --heightmap   # + send_goal line
    cliport-goal send --pick-xyz 0.45 0.0 0.12 --place-xyz 0.45 0.1 0.12 --speed 0.1

``cell`` prints a cell's base-frame position; ``line`` prints the pick and place poses and
the ``ros2 action send_goal`` line that sends them; ``send`` prints the same, sends the goal
itself (no ros2cli needed), prints each feedback phase and the result, and cancels the goal
on Ctrl-C. z comes from ``--z`` / ``--pick-z`` / ``--place-z``, or with ``--heightmap``
from one message of the heightmap topic (its own workspace then), as the policy computes it.
Exit codes: 0 success, 1 the goal failed or nothing arrived, 2 bad input.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time

from cliport_bringup.hand_goal import (
    GoalPose,
    cell_height,
    cell_xy,
    goal_fields,
    load_workspace,
    pick_place_heights,
    send_goal_command,
)
from cliport_bringup.ros_env import apply_local_ros_env
from cliport_common.frames import FR3_BASE_FRAME

PHASES = ("approach", "descend", "grasp", "lift", "transfer", "place", "retreat")


def _default_workspace() -> str:
    """The Franka workspace (cliport_sim's franka.yaml): the real arm's default."""
    from cliport_common.config import config_path

    return str(config_path("cliport_sim", "franka.yaml"))


def read_heightmap(topic: str, wait: float):
    """One ``cliport_msgs/Heightmap`` from ``topic`` (decoded), or None after ``wait`` s."""
    import rclpy

    from cliport_msgs.msg import Heightmap
    from cliport_perception.heightmap_msg import from_msg

    got = []
    rclpy.init()
    try:
        node = rclpy.create_node("cliport_goal_heightmap")
        node.create_subscription(Heightmap, topic, got.append, 1)
        end = time.monotonic() + wait
        while not got and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return from_msg(got[-1]) if got else None


def _poses(args) -> tuple[GoalPose, GoalPose, object]:
    """(pick, place, workspace) from the arguments; raises ValueError on bad input."""
    frame = None
    if args.heightmap:
        frame = read_heightmap(args.heightmap_topic, args.wait)
        if frame is None:
            raise LookupError(f"no heightmap on {args.heightmap_topic} within {args.wait:g} s")
    ws = frame.workspace if frame is not None else load_workspace(args.workspace)
    ends = {}
    for end in ("pick", "place"):
        cell, xyz = getattr(args, f"{end}_cell"), getattr(args, f"{end}_xyz")
        if (cell is None) == (xyz is None):
            raise ValueError(f"give exactly one of --{end}-cell U V and --{end}-xyz X Y Z")
        ends[end] = (cell, xyz)
    zs = {"pick": args.pick_z, "place": args.place_z}
    cells = [ends[e][0] for e in ("pick", "place")]
    if frame is not None and all(cells):
        zs = {k: v if zs[k] is None else zs[k] for k, v in zip(
            ("pick", "place"), pick_place_heights(ws, frame.heightmap, *cells), strict=True)}
    poses = []
    for end in ("pick", "place"):
        cell, xyz = ends[end]
        yaw = math.radians(getattr(args, f"{end}_yaw"))
        if xyz is not None:
            poses.append(GoalPose(*xyz, yaw=yaw))
            continue
        x, y = cell_xy(ws, *cell)
        z = zs[end]
        if z is None and frame is not None:
            z = cell_height(ws, frame.heightmap, *cell)
        if z is None:
            raise ValueError(f"--{end}-cell needs a z: --{end}-z Z or --heightmap")
        poses.append(GoalPose(x, y, z, yaw=yaw))
    return poses[0], poses[1], ws


def _print_pose(name: str, p: GoalPose, frame_id: str) -> None:
    print(f"{name}: x {p.x:.5f} y {p.y:.5f} z {p.z:.5f} m, yaw {math.degrees(p.yaw):.1f} deg "
          f"({frame_id})")


def _cell(args) -> int:
    frame = read_heightmap(args.heightmap_topic, args.wait) if args.heightmap else None
    if args.heightmap and frame is None:
        print(f"error: no heightmap on {args.heightmap_topic} within {args.wait:g} s",
              file=sys.stderr)
        return 1
    ws = frame.workspace if frame is not None else load_workspace(args.workspace)
    x, y = cell_xy(ws, args.u, args.v)
    z = args.z if args.z is not None else (cell_height(ws, frame.heightmap, args.u, args.v)
                                           if frame is not None else None)
    print(f"cell ({args.u}, {args.v}) of the {ws.shape[0]}x{ws.shape[1]} grid "
          f"(pixel_size {ws.pixel_size:g} m) -> x {x:.5f} y {y:.5f}"
          + (f" z {z:.5f}" if z is not None else "") + f" m ({args.frame})")
    return 0


def _send(fields: dict, action: str, timeout: float) -> int:
    import rclpy
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient
    from rclpy.signals import SignalHandlerOptions

    from cliport_bringup.hand_goal import fill_message
    from cliport_msgs.action import PickPlace

    # Ctrl-C cancels the goal: the context must stay alive to send the cancel.
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = rclpy.create_node("cliport_goal")
        client = ActionClient(node, PickPlace, action)
        if not client.wait_for_server(timeout_sec=10.0):
            print(f"error: no PickPlace server on {action}", file=sys.stderr)
            return 1
        goal = fill_message(PickPlace.Goal(), fields)

        def feedback(msg) -> None:
            f = msg.feedback
            name = PHASES[f.phase] if f.phase < len(PHASES) else str(f.phase)
            print(f"feedback: {name} ({f.progress:.0%})", flush=True)

        sent = client.send_goal_async(goal, feedback_callback=feedback)
        _spin_until(node, sent, 10.0)
        handle = sent.result() if sent.done() else None
        if handle is None or not handle.accepted:
            print("goal rejected (see the server's log for the reason)", file=sys.stderr)
            return 1
        result_future = handle.get_result_async()
        interrupted = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: interrupted.set())
        if not _spin_until(node, result_future, timeout, interrupted):
            if not interrupted.is_set():
                print(f"error: no result within {timeout:g} s; canceling the goal",
                      file=sys.stderr)
            print("canceling the goal...", flush=True)
            cancel = handle.cancel_goal_async()
            _spin_until(node, cancel, 5.0)
            _spin_until(node, result_future, 30.0)
        if not result_future.done():
            print("error: the goal did not end", file=sys.stderr)
            return 1
        wrapped = result_future.result()
        r = wrapped.result
        status = {GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED", GoalStatus.STATUS_ABORTED: "ABORTED",
                  GoalStatus.STATUS_CANCELED: "CANCELED"}.get(wrapped.status, str(wrapped.status))
        print(f"result: {status} success={r.success} error_code={r.error_code}"
              + (f" reward={r.reward:.3f}" if r.has_reward else "")
              + (f" message: {r.message}" if r.message else ""))
        node.destroy_node()
        return 0 if r.success else 1
    finally:
        rclpy.try_shutdown()


def _spin_until(node, future, timeout: float, interrupted=None) -> bool:
    """Spin until ``future`` is done (True), ``timeout`` s pass or ``interrupted`` is set."""
    import rclpy

    end = time.monotonic() + timeout
    while not future.done() and time.monotonic() < end:
        if interrupted is not None and interrupted.is_set():
            break
        rclpy.spin_once(node, timeout_sec=0.1)
    return future.done()


def _goal(args) -> int:
    pick, place, _ws = _poses(args)
    fields = goal_fields(pick, place, args.frame, args.instruction, args.primitive, args.speed)
    _print_pose("pick ", pick, args.frame)
    _print_pose("place", place, args.frame)
    print(send_goal_command(fields, args.action), flush=True)
    if args.cmd == "send":
        return _send(fields, args.action, args.timeout)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", default=None,
                   help="config YAML holding the workspace (bounds + pixel_size): "
                        "franka.yaml, perception.yaml, a ROS parameters file... "
                        "(default: the Franka workspace in cliport_sim's franka.yaml)")
    p.add_argument("--heightmap", action="store_true",
                   help="z (and the workspace) from one message of --heightmap-topic")
    p.add_argument("--heightmap-topic", default="/heightmap")
    p.add_argument("--wait", type=float, default=10.0, help="s to wait for the heightmap")
    p.add_argument("--frame", default=FR3_BASE_FRAME, help="the arm's base frame (goal frame)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cliport-goal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cell", help="a heightmap cell -> its base-frame position")
    c.add_argument("u", type=int, help="row (along y)")
    c.add_argument("v", type=int, help="column (along x)")
    c.add_argument("--z", type=float, help="z to print (default: from --heightmap, if given)")
    _common(c)
    for name, text in (("line", "print the poses and the ros2 action send_goal line"),
                       ("send", "print them, send the goal and wait for its result")):
        g = sub.add_parser(name, help=text)
        for end in ("pick", "place"):
            g.add_argument(f"--{end}-cell", type=int, nargs=2, metavar=("U", "V"))
            g.add_argument(f"--{end}-xyz", type=float, nargs=3, metavar=("X", "Y", "Z"))
            g.add_argument(f"--{end}-z", type=float, help=f"{end} z for a cell (m)")
            g.add_argument(f"--{end}-yaw", type=float, default=0.0, help="degrees about +z")
        g.add_argument("--instruction", default="a goal by hand",
                       help="for the logs (the server refuses an empty one)")
        g.add_argument("--primitive", default="pick_place", choices=("pick_place", "push"))
        g.add_argument("--speed", type=float, default=0.0,
                       help="speed_scaling in [0, 1]; 0 = the arm's default")
        g.add_argument("--action", default="/pick_place")
        g.add_argument("--timeout", type=float, default=300.0, help="s to wait for the result")
        _common(g)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workspace is None:
        args.workspace = _default_workspace()
    apply_local_ros_env()
    try:
        return _cell(args) if args.cmd == "cell" else _goal(args)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
