#!/usr/bin/env python3
"""Record N teleop episodes on the Franka twin through the recorder's web page.

    .venv/bin/python scripts/record_teleop_episodes.py --episodes 10 --dataset-dir data/teleop
    .venv/bin/python scripts/record_teleop_episodes.py --episodes 1 --fast --dataset-dir /tmp/t

Starts the ``teleop_twin`` graph (twin node with its PickPlace server, perception on the twin
camera with the twin's hand-eye calibration, the teleop recorder for a parallel gripper),
opens the page with its token in headless Chromium, and for each episode clicks and drags
what the twin's oracle decided (the pick cell dragged along the grasp yaw, the place cell
along the place yaw, on the page's own canvas coordinates), executes, accepts, and ends the
episode; then resets the twin for the next. The episodes go to
``<dataset-dir>/<task>-train/`` (the recorder's ``task``: teleop-twin-pick-place), in the sim
dataset format; at the end every recorded step is loaded with training's loader and its
pick rotation label printed next to the dragged yaw. Exit status 0 when every episode was
saved with a full reward.

``--fast`` renders the camera at 3 frames per simulated second and runs the twin unpaced
(as the tests do); without it the twin runs at the rig's 30 Hz and real time.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
from pathlib import Path

FAST = {"camera_fps": 3.0, "idle_camera_rate": 5.0, "real_time_factor": 0.0}
PICK_ROTATIONS = 36  # the loader's pick bins for the check at the end (10 degrees each)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10, help="episodes to record (default 10)")
    ap.add_argument("--dataset-dir", default="data/teleop",
                    help="the recorder's dataset_dir (default data/teleop)")
    ap.add_argument("--seed", type=int, default=None,
                    help="the twin's first episode seed (default: the graph's)")
    ap.add_argument("--task", default=None,
                    help="the twin's task (default: the graph's, put-block-in-bowl-seen-colors)")
    ap.add_argument("--fast", action="store_true",
                    help="camera at 3 frames per simulated second, twin unpaced")
    ap.add_argument("--port", type=int, default=0, help="the page's port (default: a free one)")
    ap.add_argument("--log-dir", default=None, help="node logs (default: a temporary folder, "
                                                    "kept when a node fails)")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error("--episodes must be >= 1")
    return args


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_loading(root: Path, records) -> bool:
    """Load this run's steps with training's loader; print each pick label beside the
    dragged yaw (equal within one bin, a half turn being the same grasp)."""
    from cliport_policy.labels import grasp_difference, loaded_picks
    from cliport_sim.dataset import Dataset

    data = Dataset(root)
    n_new = sum(r.saved for r in records)
    steps = [s for r in records if r.saved for s in r.steps if s.success]
    picks = loaded_picks(data, PICK_ROTATIONS, range(len(data) - n_new, len(data)))
    if len(picks) != len(steps):
        print(f"the dataset has {len(picks)} new steps, the run accepted {len(steps)}")
        return False
    ok = True
    for i, (step, pick) in enumerate(zip(steps, picks, strict=True)):
        dragged = step.shown[0][2]
        near = grasp_difference(pick.yaw, dragged) <= 2 * math.pi / PICK_ROTATIONS
        ok &= near
        print(f"step {i + 1}: dragged grasp yaw {math.degrees(dragged):.0f} deg; training "
              f"loads pick bin {pick.label} of {PICK_ROTATIONS}, a grasp yaw of "
              f"{math.degrees(pick.yaw):.0f} deg ({'ok' if near else 'MISMATCH'})")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from cliport_bringup.ros_env import apply_local_ros_env, domain_id_for

    # a discovery domain of its own, before rclpy starts: the graph and this process share it
    apply_local_ros_env(domain_id=domain_id_for(os.getpid()))
    import rclpy

    from cliport_bringup.graph import load_graph
    from cliport_bringup.runner import GraphRunner
    from cliport_common.ros.spin import spin_until
    from cliport_teleop.browser import BrowserUnavailable, TeleopPage, chromium
    from cliport_teleop.ros.oracle_operator import SimWatcher, graph_with, record_episodes

    port = args.port or free_port()
    token = secrets.token_urlsafe(32)
    twin = {**(FAST if args.fast else {}),
            **({"seed": args.seed} if args.seed is not None else {}),
            **({"task": args.task} if args.task else {})}
    graph = graph_with(load_graph("teleop_twin"), {
        "twin": twin,
        "teleop_recorder": {"dataset_dir": str(args.dataset_dir), "port": port,
                            "token": token}})
    recorder = graph.node("teleop_recorder").inline_parameters()
    root = Path(args.dataset_dir) / f"{recorder['task']}-{recorder.get('mode', 'train')}"
    try:
        driver = chromium()
    except BrowserUnavailable as exc:
        print(f"record_teleop_episodes: {exc}", file=sys.stderr)
        return 2
    rclpy.init()
    node = rclpy.create_node("record_teleop_episodes")
    runner = GraphRunner(log_dir=args.log_dir)
    try:
        runner.start(graph)
        sim = SimWatcher(node)

        def wait(predicate, timeout: float) -> bool:
            return spin_until(node, predicate, timeout, runner)

        if not wait(lambda: sim.current_oracle() is not None, 180):
            print("the twin published no oracle decision", file=sys.stderr)
            return 1
        page = TeleopPage(driver, f"http://127.0.0.1:{port}/?token={token}", wait)
        page.until(lambda: page.status() == "ready", 120, "the page is not ready")
        records = record_episodes(page, sim, args.episodes, wait)
    finally:
        driver.quit()
        runner.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    good = sum(r.saved and r.total_reward > 0.99 for r in records)
    print(f"{good}/{len(records)} episodes saved with full reward in {root}")
    loads = check_loading(root, records)
    return 0 if good == len(records) and loads else 1


if __name__ == "__main__":
    raise SystemExit(main())
