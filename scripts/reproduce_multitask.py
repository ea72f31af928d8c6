#!/usr/bin/env python3
"""One command, one configuration: demos -> multi-task training -> evaluation -> table.

    .venv/bin/python scripts/reproduce_multitask.py --out runs/cpu3          # the CPU budget
    .venv/bin/python scripts/reproduce_multitask.py --out /tmp/smoke --preset smoke

The configuration: one ``tiny`` CLIPort trained on put-block-in-bowl, stack-block-pyramid-seq
and towers-of-hanoi-seq (seen colours), 100 demos each, sampled task -> episode -> action
(:mod:`cliport_policy.task_sets`), against a CLIP pre-trained on the same train demos
(``cliport-pretrain-clip``: on put-block-in-bowl alone it lifted the single-task policy from
0.18 to 0.92 val reward at 250 steps, ``cliport_policy/models/README.md``); every saved
checkpoint rolled out on each task's val episodes, the best on the mean over tasks tested on
3 seeds x 100 episodes a task; then the same for the tasks' unseen-colours variants (the
checkpoint selected on their own val episodes, as the reference selects per evaluation
task); and the table in the paper's Table 1 layout, both splits, written to
``OUT/table.{md,json,png}``.

Budget of the ``cpu`` preset on 2 cores (from the measured stages):
- demos: 300 train + 60 val oracle episodes (4.5 s a pyramid, 5.4 s a hanoi demo,
  put-block-in-bowl less): ~25 min;
- the CLIP: 900 pre-training steps of 16 (~0.9 s a step): ~14 min;
- training: ``tiny`` for 3000 steps of 4 samples at 5-10 s a step, capped by
  ``--train-minutes`` (default 480: 8 h; the run then stops, saves and is evaluated as is);
- evaluation: an untrained policy's episode runs to the step limit, ~9 / 29 / 26 s for the
  three tasks; 9 checkpoints x 3 tasks x 20 val episodes (~3 h single-process) plus 3 tasks
  x 3 seeds x 100 test episodes (~5.3 h), halved by ``--workers 2``: ~4.5 h; as much again
  for the unseen variants: ~9 h.
In all about 18 h on 2 cores (at a tiny act of about 0.95 s). Every stage resumes: run the
same command again after an interruption. Val uses 20 episodes a checkpoint, not the paper's
100, to fit the budget; the test is the paper's protocol (100 episodes) over 3 seeds.

The ``cpu-2h`` preset fits one sitting (about 99 min on 2 cores); its budget and scores are
in ``docs/results/multitask-cpu2h.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from reproduce_common import SMOKE_TRAIN, add_run_arguments, chosen_preset, config_file

TASKS = ("put-block-in-bowl-seen-colors", "stack-block-pyramid-seq-seen-colors",
         "towers-of-hanoi-seq-seen-colors")


def unseen_variants(tasks: tuple[str, ...]) -> tuple[str, ...]:
    """The unseen-colours variant of each seen-colours task (the table's unseen half)."""
    return tuple(t.replace("-seen-colors", "-unseen-colors") for t in tasks
                 if t.endswith("-seen-colors"))


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of one reproduction; ``smoke`` only checks that every stage runs."""

    train_demos: int
    val_demos: int
    steps: int | None  # None: the config's own
    train_minutes: float
    val_episodes: int
    test_episodes: int
    seeds: int
    heatmaps: int = 2  # test episodes drawn as heatmap PNGs
    clip_steps: int = 900  # CLIP pre-training steps on the train demos; 0: the config's CLIP
    # unseen-colours variants evaluated after the seen ones (checkpoint selected on their own
    # val episodes, as the reference does per evaluation task); None: every task's
    unseen: tuple[str, ...] | None = None
    config_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


PRESETS = {
    "cpu": Preset(train_demos=100, val_demos=20, steps=None, train_minutes=480,
                  val_episodes=20, test_episodes=100, seeds=3),
    # what fits one working session on 2 cores (~2 h, stated below): the same data (100
    # demos a task) and test protocol (3 seeds) at a smaller training and test budget; the
    # transport at 12 rotations (tiny12's), no checkpoint selection (the last one is tested)
    "cpu-2h": Preset(train_demos=100, val_demos=5, steps=1000, train_minutes=60,
                     val_episodes=0, test_episodes=20, seeds=3, clip_steps=600,
                     config_overrides={"model": {"place_rotations": 12},
                                       "train": {"lr_steps": [350], "lr_gamma": 0.5,
                                                 "save_steps": [1000], "threads": 2}}),
    "smoke": Preset(train_demos=1, val_demos=1, steps=2, train_minutes=5, val_episodes=1,
                    test_episodes=1, seeds=1, heatmaps=0, clip_steps=2,
                    unseen=("put-block-in-bowl-unseen-colors",),  # the quick one
                    config_overrides={"model": {"place_rotations": 4},
                                      "train": {**SMOKE_TRAIN, "threads": 1}}),
}


def reproduce(out: Path, preset: Preset, config: str = "tiny", workers: int = 2,
              observation: str = "views", tasks: tuple[str, ...] = TASKS,
              progress: bool = True) -> dict[str, Any]:
    """Run every stage (each resumes where a previous call stopped); returns results.json."""
    from cliport_policy.clip_pretrain import main as clip_main
    from cliport_policy.evaluate import main as eval_main
    from cliport_policy.train import main as train_main
    from cliport_sim.demos import generate

    out.mkdir(parents=True, exist_ok=True)
    data, run = out / "data", out / "run"
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    for task in tasks:
        for mode, n in (("train", preset.train_demos), ("val", preset.val_demos)):
            generate(task, mode, n, data, workers=workers, progress=progress,
                     observation=observation)
    times["demos_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    clip = out / "clip.safetensors"
    if preset.clip_steps and not clip.is_file():  # resumes: a finished CLIP is kept
        argv = ["--data", str(data), "--n-demos", str(preset.train_demos), "--steps",
                str(preset.clip_steps), "--out", str(clip), "--half"]
        argv += [a for t in tasks for a in ("--task", t, "--val-task", t)]
        if clip_main(argv) != 0:
            raise SystemExit("CLIP pre-training failed (see above)")
    times["clip_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    argv = ["--config", config_file(out, config, preset.config_overrides), "--data",
            str(data), "--n-demos", str(preset.train_demos), "--out", str(run),
            "--max-minutes", str(preset.train_minutes), "--device", "cpu"]
    if preset.clip_steps:
        argv += ["--clip-pretrained", str(clip)]
    argv += [a for t in tasks for a in ("--task", t)]
    if preset.steps is not None:
        argv += ["--steps", str(preset.steps)]
    if not progress:
        argv.append("--quiet")
    train_main(argv)
    times["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    argv = ["--run", str(run), "--val-episodes", str(preset.val_episodes),
            "--test-episodes", str(preset.test_episodes), "--seeds", str(preset.seeds),
            "--workers", str(workers), "--observation", observation,
            "--heatmaps", str(preset.heatmaps)]
    if not progress:
        argv.append("--quiet")
    eval_main(argv)  # the run's own (seen) tasks, selected on their mean
    seen = json.loads((run / "eval" / "results.json").read_text())
    times["eval_s"] = time.perf_counter() - t0
    unseen = unseen_variants(tasks) if preset.unseen is None else preset.unseen
    t0 = time.perf_counter()
    if unseen:  # then the unseen variants, selected on theirs; the table keeps both
        eval_main(argv + [a for t in unseen for a in ("--task", t)])
    times["eval_unseen_s"] = time.perf_counter() - t0

    for suffix in ("md", "json", "png"):
        shutil.copyfile(run / "eval" / f"table.{suffix}", out / f"table.{suffix}")
    results = json.loads((run / "eval" / "results.json").read_text())
    results["seen"] = {k: seen[k] for k in ("mean", "ci95", "evaluated")}
    if unseen:
        results["unseen"] = {k: results[k] for k in ("mean", "ci95", "evaluated")}
    (out / "budget.json").write_text(json.dumps(
        {**times, "preset": dataclasses.asdict(preset), "workers": workers,
         "observation": observation, "tasks": list(tasks), "unseen": list(unseen)}, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="data, run and table go here")
    add_run_arguments(ap, PRESETS, "tiny")
    ap.add_argument("--observation", default="views", choices=("views", "orthographic"),
                    help="views: the three cameras fused as perception does (the paper's)")
    args = ap.parse_args(argv)
    preset = chosen_preset(args, PRESETS)
    results = reproduce(args.out, preset, args.config, args.workers, args.observation,
                        progress=not args.quiet)
    print((args.out / "table.md").read_text())
    for split in ("seen", "unseen"):
        if split in results:
            r = results[split]
            print(f"{split}: mean over {len(r['evaluated'])} tasks {100 * r['mean']:.1f} ± "
                  f"{100 * r['ci95']:.1f}")
    print(f"budget in {args.out / 'budget.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
