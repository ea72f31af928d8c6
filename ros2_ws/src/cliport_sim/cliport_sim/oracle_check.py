"""Run the scripted oracle on seeds of a task and report how often it succeeds.

The acceptance bar for every task variant is "reward >= 0.99 on at least 95 % of 20
seeds". ``cliport-oracle-check --task all --seeds 20`` measures it; tests call
:func:`run_oracle` on a couple of seeds. Rendering of the three cameras is off by default
here (the oracle only needs its own top-down view), which makes a check ~2x faster.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace

from cliport_sim.environment import Environment, SimConfig, load_sim_config
from cliport_sim.tasks import TaskSetupError, make_task, task_names

SUCCESS = 0.99


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
    """The reference seed convention: train even from 0, val odd from 1, test from 10001."""
    start = {"train": 0, "val": 1, "test": 10001}[mode]
    return [start + 2 * i for i in range(n)]


def run_episode(env: Environment, seed: int) -> EpisodeResult:
    task = env.task
    t0 = time.perf_counter()
    total, steps, error = 0.0, 0, ""
    try:
        env.reset(seed)
        for _ in range(task.max_steps):
            action = task.oracle(env)
            if action is None:
                error = "oracle found nothing to do"
                break
            _, reward, done, info = env.step(action)
            total += reward
            steps += 1
            if info.get("timeout"):
                error = f"motion timed out: {info['primitive']['reason']}"
                break
            if done:
                break
    except TaskSetupError as exc:
        error = f"setup: {exc}"
    return EpisodeResult(task.name, task.mode, seed, total, steps, total >= SUCCESS,
                         time.perf_counter() - t0, error)


def run_oracle(task_name: str, mode: str, seeds: list[int],
               config: SimConfig | None = None) -> list[EpisodeResult]:
    """One environment, every seed in order; each episode is independent of the others."""
    config = config or SimConfig(observe=False)
    with Environment(make_task(task_name, mode), config) as env:
        return [run_episode(env, seed) for seed in seeds]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", action="append", required=True,
                    help="task name (repeatable) or 'all'")
    ap.add_argument("--mode", default="train", choices=("train", "val", "test"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--observe", action="store_true", help="also render + fuse the cameras")
    ap.add_argument("--json", help="write every episode result to this JSON file")
    args = ap.parse_args(argv)
    names = task_names() if "all" in args.task else args.task
    config = replace(load_sim_config(), observe=args.observe)
    results, worst = [], 1.0
    for name in names:
        rs = run_oracle(name, args.mode, seeds_for(args.mode, args.seeds), config)
        results += rs
        rate = sum(r.success for r in rs) / len(rs)
        worst = min(worst, rate)
        secs = sorted(r.seconds for r in rs)[len(rs) // 2]
        fails = [f"{r.seed}:{r.reward:.2f}{' ' + r.error if r.error else ''}"
                 for r in rs if not r.success]
        print(f"{name:45s} {args.mode:5s} success {rate:6.1%}  median {secs:5.2f} s/episode"
              + (f"  failed {fails}" if fails else ""), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)
    return 0 if worst >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
