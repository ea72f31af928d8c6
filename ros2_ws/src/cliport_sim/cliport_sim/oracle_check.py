"""Run the scripted oracle on seeds of a task and report how often it succeeds.

The acceptance bar for every task variant is "reward >= 0.99 on at least 95 % of 20
seeds". ``cliport-oracle-check --task all --seeds 20`` measures it; tests call
:func:`run_oracle` on a couple of seeds. Rendering of the three cameras is off by default
here (the oracle only needs its own top-down view), which makes a check ~2x faster.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, dataclass, replace

from cliport_common.cli import one_line_errors
from cliport_sim.demos import run_demo, seeds
from cliport_sim.environment import Environment, SimConfig, load_sim_config
from cliport_sim.tasks import UnknownTaskError, make_task, task_names


@dataclass
class EpisodeResult:
    task: str
    mode: str
    seed: int
    reward: float
    steps: int
    success: bool
    seconds: float
    error: str = ""


def seeds_for(mode: str, n: int) -> list[int]:
    """The first ``n`` seeds of ``mode`` in the reference convention (as cliport-demos)."""
    return list(itertools.islice(seeds(mode), n))


def run_episode(env: Environment, seed: int) -> EpisodeResult:
    """One oracle episode, judged exactly as ``cliport-demos`` keeps or drops it."""
    result = run_demo(env, seed)
    steps = result.episode.n_steps if result.episode is not None else 0
    return EpisodeResult(env.task.name, env.task.mode, seed, result.reward, steps,
                         result.episode is not None, result.seconds,
                         "" if result.episode is not None else result.reason)


def run_oracle(task_name: str, mode: str, seeds: list[int],
               config: SimConfig | None = None) -> list[EpisodeResult]:
    """One environment, every seed in order; each episode is independent of the others."""
    config = config or SimConfig(observe=False)
    with Environment(make_task(task_name, mode), config) as env:
        return [run_episode(env, seed) for seed in seeds]


@one_line_errors("cliport-oracle-check", UnknownTaskError)
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-oracle-check",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--task", action="append", required=True,
                    help="task name (repeatable) or 'all'")
    ap.add_argument("--mode", default="train", choices=("train", "val", "test"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--observe", action="store_true", help="also render + fuse the cameras")
    ap.add_argument("--robot", choices=("ur5", "panda"), default="ur5",
                    help="the world's arm: ur5 (default) or panda (the Franka twin)")
    ap.add_argument("--json", help="write every episode result to this JSON file")
    args = ap.parse_args(argv)
    names = task_names() if "all" in args.task else args.task
    for name in names:
        make_task(name, args.mode)  # a misspelt name: one line with suggestions, before running
    config = replace(load_sim_config(), observe=args.observe, robot=args.robot)
    results, worst = [], 1.0
    for name in names:
        rs = run_oracle(name, args.mode, seeds_for(args.mode, args.seeds), config)
        results += rs
        rate = sum(r.success for r in rs) / len(rs)
        worst = min(worst, rate)
        secs = sorted(r.seconds for r in rs)[len(rs) // 2]
        fails = [f"{r.seed}:{r.reward:.2f}{' ' + r.error if r.error else ''}"
                 for r in rs if not r.success]
        print(f"{name:45s} {args.robot:5s} {args.mode:5s} success {rate:6.1%}  "
              f"median {secs:5.2f} s/episode"
              + (f"  failed {fails}" if fails else ""), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    return 0 if worst >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
