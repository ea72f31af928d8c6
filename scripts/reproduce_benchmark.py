#!/usr/bin/env python3
"""One command per row: the CPU-sized CLIPort (``config/cpu.yaml``) on the benchmark's task
families, each row's training capped in minutes on these 2 cores.

    .venv/bin/python scripts/reproduce_benchmark.py --row put-block-in-bowl --out runs/bench \
        --config cpu-strided
    .venv/bin/python scripts/reproduce_benchmark.py --row towers-of-hanoi --out runs/bench \
        --threads 2
    .venv/bin/python scripts/reproduce_benchmark.py --row stack-block-pyramid --out runs/bench
    .venv/bin/python scripts/reproduce_benchmark.py --row packing-boxes-pairs --out runs/bench \
        --threads 2
    .venv/bin/python scripts/reproduce_benchmark.py --row multi --out runs/bench
    .venv/bin/python scripts/reproduce_benchmark.py --row put-block-in-bowl --out /tmp/s \
        --preset smoke

A row: 100 oracle demos a task (seen colours) and 20 for validation into ``OUT/data`` (shared:
the multi-task row reads the single rows' demos), a CPU-sized CLIP pre-trained on the row's
train demos (``cliport-pretrain-clip``), the policy trained with a cap on its wall-clock
minutes (60 for a single task, 150 for the three tasks together: the cap counts every
sitting, so a resumed run trains only for what is left of it), every saved checkpoint rolled
out on 20 val episodes a task and the best tested on 3 seeds x 50 episodes; then, for a
single task, its unseen-colours variant (the checkpoint chosen on that variant's own val
episodes, as the reference does per evaluation task). ``cpu.yaml`` trains on one torch
thread, so two rows can train side by side on the two cores; ``--threads 2`` gives one row
both (1.4x the samples a second on these cores).

Everything lands in ``OUT/<row>/``: the run, ``results.json`` (both splits), the budget
(wall and CPU seconds of each stage, CPU minutes in all, counting the simulator and
evaluation processes: ``budget.json``) and the learning curves (``curves.{json,png}``).
Every stage resumes: run the same command again after an interruption.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from reproduce_common import SMOKE_TRAIN, StageBudget, add_run_arguments, chosen_preset, config_file
from reproduce_multitask import unseen_variants


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the table: the tasks trained together and the training's budget."""

    tasks: tuple[str, ...]  # seen-colours tasks, trained on (and selected on) together
    train_minutes: float  # wall-clock cap over all sittings (the budget)
    steps: int  # the schedule's length; the cap usually stops the run first
    save_every: int  # steps between the checkpoints that are validated
    clip_steps: int = 600  # CLIP pre-training steps on the row's train demos
    unseen: bool = True  # also test the unseen-colours variants


PBIB, PYRAMID = "put-block-in-bowl-seen-colors", "stack-block-pyramid-seq-seen-colors"
HANOI, PACKING = "towers-of-hanoi-seq-seen-colors", "packing-boxes-pairs-seen-colors"
ROWS = {
    "put-block-in-bowl": Row((PBIB,), 60, 5000, 1000),
    "towers-of-hanoi": Row((HANOI,), 60, 5000, 1000),
    "stack-block-pyramid": Row((PYRAMID,), 60, 5000, 1000),
    "packing-boxes-pairs": Row((PACKING,), 60, 5000, 1000),
    # the three tasks of docs/multitask-cpu2h.md, one policy, sampled task -> episode
    "multi": Row((PBIB, PYRAMID, HANOI), 150, 12000, 2000, clip_steps=900, unseen=False),
}


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of one reproduction; ``smoke`` only checks that every stage runs."""

    train_demos: int
    val_demos: int
    val_episodes: int  # a task's val episodes per saved checkpoint
    test_episodes: int  # a task's test episodes per seed
    seeds: int
    observation: str = "views"  # the three cameras fused as perception does (the paper's)
    heatmaps: int = 2
    train_minutes: float | None = None  # None: the row's cap
    steps: int | None = None  # None: the row's
    clip_steps: int | None = None  # None: the row's
    config_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


PRESETS = {
    "cpu": Preset(train_demos=100, val_demos=20, val_episodes=20, test_episodes=50, seeds=3),
    "smoke": Preset(train_demos=1, val_demos=1, val_episodes=1, test_episodes=1, seeds=1,
                    observation="orthographic", heatmaps=0, train_minutes=3, steps=2,
                    clip_steps=2,
                    config_overrides={"model": {"place_rotations": 4}, "train": SMOKE_TRAIN}),
}


def reproduce(out: Path, row_name: str, preset: Preset, config: str = "cpu", workers: int = 2,
              progress: bool = True) -> dict[str, Any]:
    """Run every stage of one row (each resumes); returns ``OUT/<row>/results.json``."""
    from cliport_policy.clip_pretrain import main as clip_main
    from cliport_policy.eval_cli import main as eval_main
    from cliport_policy.learning_curves import write_curves
    from cliport_policy.train import main as train_main
    from cliport_sim.demos import generate

    row = ROWS[row_name]
    steps = preset.steps or row.steps
    minutes = preset.train_minutes if preset.train_minutes is not None else row.train_minutes
    data, here = out / "data", out / row_name
    run, clip = here / "run", here / "clip.safetensors"
    here.mkdir(parents=True, exist_ok=True)
    budget = StageBudget(here / "budget.json")
    quiet = [] if progress else ["--quiet"]
    task_args = [a for t in row.tasks for a in ("--task", t)]

    def demos() -> None:
        for task in row.tasks:
            for mode, n in (("train", preset.train_demos), ("val", preset.val_demos)):
                generate(task, mode, n, data, workers=workers, progress=progress,
                         observation=preset.observation)

    def pretrain() -> None:
        if clip.is_file():  # resumes: a finished CLIP is kept
            return
        argv = ["--data", str(data), "--n-demos", str(preset.train_demos), "--steps",
                str(preset.clip_steps or row.clip_steps), "--out", str(clip), "--half"]
        argv += [a for t in row.tasks for a in ("--task", t, "--val-task", t)]
        if clip_main(argv) != 0:
            raise SystemExit("CLIP pre-training failed (see above)")

    def train() -> None:
        left = budget.minutes_left("train", minutes)  # the cap counts every sitting
        if not left:
            return
        overrides = {**preset.config_overrides}
        overrides["train"] = {"save_steps": list(range(row.save_every, steps + 1,
                                                       row.save_every)),
                              **overrides.get("train", {})}
        argv = ["--config", config_file(here, config, overrides), "--data", str(data),
                "--n-demos", str(preset.train_demos), "--out", str(run), "--clip-pretrained",
                str(clip), "--steps", str(steps), "--max-minutes", f"{left:.3f}",
                "--device", "cpu", *task_args]
        train_main(argv + quiet)

    def evaluate(tasks: list[str]) -> None:
        argv = ["--run", str(run), "--val-episodes", str(preset.val_episodes),
                "--test-episodes", str(preset.test_episodes), "--seeds", str(preset.seeds),
                "--workers", str(workers), "--observation", preset.observation,
                "--heatmaps", str(preset.heatmaps), "--method", method]
        eval_main(argv + [a for t in tasks for a in ("--task", t)] + quiet)

    # the table's row name: the config next to the paper's method it is compared with
    method = f"CLIPort {Path(config).stem} ({'multi' if len(row.tasks) > 1 else 'single'})"
    seen_results: dict[str, Any] = {}

    def evaluate_seen() -> None:
        evaluate(list(row.tasks))  # selected on the mean over the row's tasks
        seen_results.update(json.loads((run / "eval" / "results.json").read_text()))

    unseen = list(unseen_variants(row.tasks)) if row.unseen else []
    for name, fn in (("demos", demos), ("clip", pretrain), ("train", train),
                     ("eval", evaluate_seen), ("eval_unseen", lambda: evaluate(unseen))):
        if name != "eval_unseen" or unseen:
            budget.timed(name, fn)
    budget.finish(row=row_name, tasks=list(row.tasks), unseen=unseen, config=config,
                  train_demos=preset.train_demos, train_minutes_cap=minutes,
                  preset=dataclasses.asdict(preset), workers=workers)

    results = json.loads((run / "eval" / "results.json").read_text())
    keys = ("mean", "ci95", "n_seeds", "per_seed", "evaluated", "checkpoint")
    results["seen"] = {k: seen_results[k] for k in keys}
    if unseen:
        results["unseen"] = {k: results[k] for k in keys}
    (here / "results.json").write_text(json.dumps(results, indent=1))
    for suffix in ("md", "json", "png"):
        shutil.copyfile(run / "eval" / f"table.{suffix}", here / f"table.{suffix}")
    write_curves(run, here / "curves", title=f"{row_name}: {', '.join(row.tasks)}, "
                 f"{preset.train_demos} demos a task, {config}")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--row", required=True, choices=sorted(ROWS))
    ap.add_argument("--out", required=True, type=Path, help="data and rows go here")
    add_run_arguments(ap, PRESETS, "cpu")
    args = ap.parse_args(argv)
    results = reproduce(args.out, args.row, chosen_preset(args, PRESETS), args.config,
                        args.workers, progress=not args.quiet)
    from cliport_policy.eval_cli import ci_text

    budget = json.loads((args.out / args.row / "budget.json").read_text())
    for split in ("seen", "unseen"):
        if split in results:
            r = results[split]
            print(f"{args.row} {split}: {100 * r['mean']:.1f} ± {ci_text(r)} over "
                  f"{', '.join(r['evaluated'])} ({r['checkpoint']})")
    print(f"{budget['cpu_minutes']:.1f} CPU minutes in all, training "
          f"{budget['train_cpu_minutes']:.1f}; budget in {args.out / args.row / 'budget.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
