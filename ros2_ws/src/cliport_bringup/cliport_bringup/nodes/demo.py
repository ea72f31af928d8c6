"""``cliport-demo`` (``make demo``): a simulated stack end to end with a shipped model.

Starts a graph as real processes on a fresh local ROS domain, runs ``cliport-sim-loop
--policy cliport`` for a few episodes of put-block-in-bowl, and stops everything. With
``--robot panda`` (``make demo``) the graph is ``twin``, the rehearsal of the real one: the
Franka twin (Panda + Franka Hand, one RealSense-like camera, PickPlace with the moveit
backend's sequencing), perception and the policy node driving it with the shipped
parallel-gripper model. With ``--robot ur5`` it is ``sim_policy``: the UR5 with suction,
three cameras and the shipped suction model. Prints every step and the success rate; writes
to ``--out`` per episode an MP4 and a GIF of the arm doing the task (a perspective camera,
the instruction and each step's result drawn on; rendered after the episodes from recorded
states, so the loop runs at full speed), the top-down map of every step beside its pick and
place heatmaps, and ``index.html``, a report of every episode (open it in a browser), with
``summary.json``; the nodes' logs go to ``<out>/logs``. ``--policy oracle`` runs the same
loop with the simulator's scripted expert, no model needed. Exits 0 when the episodes
ran (whatever their success; the summary says it), 2 when the stack could not run them.

    make demo                                     # = cliport-demo --robot panda --out demo
    cliport-demo --robot ur5 --out demo-ur5       # the UR5 with suction
    cliport-demo --checkpoint runs/x/checkpoints/last.ckpt --episodes 5
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

SHIPPED = "package://cliport_policy/models/put-block-in-bowl-tiny.ckpt"  # UR5, suction
SHIPPED_TWIN = "package://cliport_policy/models/put-block-in-bowl-twin-gripper.ckpt"
# The twin as fast as the CPU allows: the videos are rendered from states recorded on
# simulated time (so they still show the real arm's pace), and perception needs a frame
# after each motion, not 30 a second of it (each costs ~0.1 s to render on a CPU).
FAST_TWIN = {"real_time_factor": 0.0, "camera_fps": 2.0, "idle_camera_rate": 5.0}
ROBOTS = {  # --robot -> (graph with the policy, graph for the oracle, world node, model)
    "panda": ("twin", "twin", "twin", SHIPPED_TWIN),
    "ur5": ("sim_policy", "sim", "sim", SHIPPED),
}


def demo_graph(policy: str, checkpoint: str, seed: int | None, robot: str = "ur5"):
    """The graph the demo starts, with its checkpoint and first seed set."""
    from cliport_bringup.graph import load_graph

    with_policy, oracle_graph, world, _ = ROBOTS[robot]
    graph = load_graph(oracle_graph if policy == "oracle" else with_policy)
    nodes = []
    for node in graph.nodes:
        extra: dict = {}
        if node.name == "policy_node":
            # the twin graph mirrors the real one (decisions published, not sent)
            extra = {"checkpoint": checkpoint, "mode": "execute"} if policy == "cliport" else {}
        if node.name == world:
            extra = {**(FAST_TWIN if robot == "panda" else {}),
                     **({"seed": int(seed)} if seed is not None else {})}
        nodes.append(dataclasses.replace(node, parameters=[*node.parameters, extra])
                     if extra else node)
    return dataclasses.replace(graph, nodes=nodes)


def checkpoint_problem(checkpoint: str) -> str | None:
    """Why ``checkpoint`` cannot drive the demo (missing, unreadable), or None."""
    from cliport_common.config import ConfigError
    from cliport_perception.sources.calibration_file import resolve_file
    from cliport_policy.checkpoint import CheckpointError, read_checkpoint

    try:
        path = resolve_file(checkpoint)
    except ConfigError as exc:
        return (f"no model at {checkpoint} ({exc}). Train one (see "
                f"ros2_ws/src/cliport_policy/models/README.md) and pass --checkpoint, or run "
                f"the loop with the simulator's expert: cliport-demo --policy oracle")
    try:
        read_checkpoint(path)  # before starting a graph whose policy node would refuse it
    except CheckpointError as exc:
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("demo"),
                    help="where the videos, heatmaps, index.html, summary.json and logs go "
                         "(default: demo)")
    ap.add_argument("--robot", choices=sorted(ROBOTS), default="panda",
                    help="panda: the Franka twin (graph twin); ur5: the suction UR5 "
                         "(graph sim_policy) (default: panda)")
    ap.add_argument("--checkpoint",
                    help=f"policy checkpoint, a path or package:// URL (default: the "
                         f"robot's shipped model, {SHIPPED_TWIN} or {SHIPPED})")
    ap.add_argument("--policy", choices=("cliport", "oracle"), default="cliport")
    ap.add_argument("--seed", type=int, help="the first episode's seed (default: the graph's)")
    ap.add_argument("--step-timeout", type=float, default=180.0)
    args = ap.parse_args(argv)
    from cliport_bringup.ros_env import undecodable_argument

    problem = undecodable_argument(sys.argv[1:] if argv is None else argv)
    if problem:  # rclpy.init() would end in a UnicodeEncodeError traceback
        print(f"cliport-demo: error: {problem}", file=sys.stderr)
        return 2
    if args.episodes < 1:
        ap.error("--episodes must be >= 1")
    if args.checkpoint is None:
        args.checkpoint = ROBOTS[args.robot][3]
    if args.policy == "cliport":
        problem = checkpoint_problem(args.checkpoint)
        if problem:
            print(f"cliport-demo: error: {problem}", file=sys.stderr)
            return 2

    from cliport_bringup.nodes.sim_loop import run
    from cliport_bringup.ros_env import local_ros_env
    from cliport_bringup.runner import GraphRunner

    env = local_ros_env()
    graph = demo_graph(args.policy, args.checkpoint, args.seed, args.robot)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"cliport-demo: starting graph {graph.name} (ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, "
          f"logs in {args.out / 'logs'})", flush=True)
    with GraphRunner(env=env, log_dir=args.out / "logs") as runner:
        runner.start(graph)
        code = run(args.episodes, args.policy, args.out, args.step_timeout, wait=240.0,
                   domain_id=int(env["ROS_DOMAIN_ID"]))
        try:
            runner.check_alive()
        except RuntimeError as exc:
            print(f"cliport-demo: a node died: {exc}", file=sys.stderr)
            return 2
    videos = sorted(args.out.glob("episode-*.mp4"))
    if videos:
        print("episode videos: " + ", ".join(str(v) for v in videos))
    if (args.out / "index.html").is_file():
        print(f"report: open {args.out / 'index.html'} in a browser")
    # Failed episodes are the policy's result, not the demo's failure: 0 once it ran.
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
