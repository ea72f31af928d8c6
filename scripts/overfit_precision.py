#!/usr/bin/env python3
"""The five-demo overfit check of the training tests at a chosen precision: the tiny CLIPort
(12 place rotations, 32-cell crops) on five put-block-in-bowl demos at half resolution,
trained in batches of 4 until every action is decided right (pick and place within 2 cells,
both bins exact) or 400 steps, with training and acting each at fp32 or bf16 autocast.

    .venv/bin/python scripts/overfit_precision.py --train bf16 --act bf16 --seed 0
    .venv/bin/python scripts/overfit_precision.py --train fp32 --act fp32 --seed 1

Prints the train accuracy every 10 steps, then one line ``RESULT ...``. The loop is the
tests' own (``cliport_policy/test/conftest.py``, imported by path), on two torch threads as
the tests (``--threads``).

Why: a precision is chosen by learning, not only by speed (docs/notes/cpu-isa.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFTEST = ROOT / "ros2_ws/src/cliport_policy/test/conftest.py"
TASK = "put-block-in-bowl-seen-colors"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", choices=("fp32", "bf16"), default="bf16")
    ap.add_argument("--act", choices=("fp32", "bf16"), default="bf16")
    ap.add_argument("--seed", type=int, default=0, help="the model's init")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the tests' 2)")
    ap.add_argument("--demos", type=Path, help="demo root (default: five fresh ones)")
    args = ap.parse_args(argv)
    import torch

    from cliport_policy import cpu_isa
    from cliport_policy.agents import make_agent
    from cliport_policy.config import load_policy_config
    from cliport_policy.data import _place_bin
    from cliport_sim.dataset import Dataset, episode_dir
    from cliport_sim.demos import generate

    spec = importlib.util.spec_from_file_location("policy_test_conftest", TEST_CONFTEST)
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    torch.set_num_threads(args.threads)
    root = args.demos or Path(tempfile.mkdtemp(prefix="overfit-demos-"))
    generate(TASK, "train", 5, root, progress=False)  # resumes: existing demos are kept
    demos = Dataset(episode_dir(root, TASK, "train"), n_demos=5, cache_episodes=8)
    tiny = load_policy_config("tiny")
    cfg = dataclasses.replace(tiny.model, place_rotations=12, crop_size=32)
    torch.manual_seed(args.seed)
    agent = make_agent(cfg)
    agent.precision = args.act
    losses = agent.losses

    def losses_at_precision(*a, **k):
        with cpu_isa.autocast(args.train):
            return losses(*a, **k)

    agent.losses = losses_at_precision
    steps, img, text, pick, place = tests._half_resolution(demos)
    rot = torch.tensor([_place_bin(s, cfg.place_rotations) for s in steps])
    t = time.perf_counter()
    acc, step = tests._overfit(agent, tiny.train.grad_clip,
                               (img, text, pick, place, torch.zeros_like(rot), rot),
                               args.steps, log=True)
    print(f"RESULT train {args.train} act {args.act} seed {args.seed}: train accuracy "
          f"{acc:.2f} at step {step}, {time.perf_counter() - t:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
