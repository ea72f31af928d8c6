#!/usr/bin/env python3
"""One command per row: a parallel gripper's policy trained on Franka-twin demos, tested on
the twin.

    .venv/bin/python scripts/reproduce_gripper.py --row pbib-100 --out runs/gripper \
        --steps 3000 --train-minutes 240
    .venv/bin/python scripts/reproduce_gripper.py --row pbib-10 --out runs/gripper \
        --train-minutes 50 --clip-steps 150
    .venv/bin/python scripts/reproduce_gripper.py --row pbib-10-scenes --out runs/gripper \
        --train-minutes 50
    .venv/bin/python scripts/reproduce_gripper.py --row pyramid-100 --out runs/gripper \
        --steps 1500 --train-minutes 240
    .venv/bin/python scripts/reproduce_gripper.py --row teleop-10 --out runs/gripper \
        --steps 1000 --clip-steps 150 --train-minutes 240 \
        --teleop-data data/teleop/teleop-twin-pick-place-train
    .venv/bin/python scripts/reproduce_gripper.py --row pbib-10 --out /tmp/s --preset smoke

A row: oracle demos on the twin (``cliport-demos --robot panda``: Panda + Franka Hand, grasp
yaws in the pick poses) into ``OUT/data`` (shared by the rows: the 10-demo row reads the
first 10 of the 100), a CPU-sized CLIP pre-trained on the row's own train demos
(``cliport-pretrain-clip``; the ``*-scenes`` rows add 400 captioned scenes with no
demonstration in them, ``cliport-scenes``, docs/design.md#scene-captions), the policy
(``config/twin-gripper.yaml``: 12 grasp-yaw bins by
the crop classifier, docs/results/gripper-design.md) trained with a wall-clock cap counted
over every sitting, every saved
checkpoint rolled out on the twin's val episodes and the best tested on 3 seeds x 50
episodes (``cliport-eval --robot panda``). Everything lands in ``OUT/<row>/``; the budget
(wall and CPU seconds of each stage, CPU minutes in all, counting the simulator and
evaluation processes) in ``OUT/<row>/budget.json``.

Every stage resumes: the demos store, a finished CLIP, the run's ``last.ckpt``, the
evaluation JSONs. Learning curves (losses by step, val success by checkpoint) land in
``OUT/<row>/curves.{json,png}``. The ``teleop-10`` row trains on episodes recorded through
the teleop page on the twin (``scripts/record_teleop_episodes.py --seed 1000``: train-range
seeds, so no test scene is seen) instead of oracle demos; its val and test episodes are the
oracle's. Run the same command again after an interruption; the budget adds up the calls
(``calls``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from reproduce_common import (
    SMOKE_TRAIN,
    StageBudget,
    add_run_arguments,
    chosen_preset,
    config_file,
    positive_int,
    with_train_overrides,
)

ROWS = {  # row -> (task, train demos)
    "pbib-100": ("put-block-in-bowl-seen-colors", 100),
    "pbib-10": ("put-block-in-bowl-seen-colors", 10),
    "pyramid-100": ("stack-block-pyramid-seq-seen-colors", 100),
    "teleop-10": ("put-block-in-bowl-seen-colors", 10),
    "pbib-10-scenes": ("put-block-in-bowl-seen-colors", 10),
    "pbib-100-scenes": ("put-block-in-bowl-seen-colors", 100),
}
SAVE_EVERY = 250  # steps between saved checkpoints (config/twin-gripper.yaml's spacing)
TELEOP_ROWS = {"teleop-10"}  # rows trained on recorded teleop episodes, not oracle demos
# rows whose CLIP also learns captions from N task-agnostic scenes (cliport-scenes in
# OUT/scenes, shared): colours and shapes known before any demo, as a web-trained CLIP knows them
SCENE_ROWS = {"pbib-10-scenes": 400, "pbib-100-scenes": 400}
# the results table's row names: the demos' source tells the 10-demo rows apart
METHODS = {"oracle": "CLIPort twin gripper (oracle demos)",
           "teleop": "CLIPort twin gripper (teleop episodes)",
           "scenes": "CLIPort twin gripper (oracle demos, CLIP + captioned scenes)"}


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of one reproduction; ``smoke`` only checks that every stage runs."""

    train_demos: int | None  # None: the row's
    val_demos: int
    steps: int | None  # None: the config's own
    train_minutes: float  # the training's wall-clock cap over all sittings (then evaluated)
    val_episodes: int
    test_episodes: int
    seeds: int
    observation: str = "views"  # the twin's one calibrated camera, fused as perception does
    heatmaps: int = 2
    clip_steps: int = 600  # CLIP pre-training steps on the row's train demos
    scenes: int | None = None  # captioned scenes of a SCENE_ROWS row (None: the row's own)
    config_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


PRESETS = {
    "cpu": Preset(train_demos=None, val_demos=20, steps=None, train_minutes=120,
                  val_episodes=20, test_episodes=50, seeds=3),
    "smoke": Preset(train_demos=1, val_demos=1, steps=2, train_minutes=3, val_episodes=1,
                    test_episodes=1, seeds=1, observation="orthographic", heatmaps=0,
                    clip_steps=2, scenes=3,
                    config_overrides={"model": {"place_rotations": 4}, "train": SMOKE_TRAIN}),
}


def teleop_data_root(out: Path, row: str, task: str, teleop: Path) -> Path:
    """A data root whose train split is the recorded teleop episodes and whose val split is
    the oracle's (links, so training reads both under the row's task name)."""
    if not (teleop / "index.jsonl").is_file():
        raise SystemExit(f"--teleop-data {teleop}: no recorded episodes there (no index.jsonl)")
    root = out / row / "data"
    root.mkdir(parents=True, exist_ok=True)
    for split, target in (("train", teleop), ("val", out / "data" / f"{task}-val")):
        link = root / f"{task}-{split}"
        if not (link.is_symlink() or link.exists()):  # the val split may not exist yet
            link.symlink_to(target.resolve(), target_is_directory=True)
    return root


def reproduce(out: Path, row: str, preset: Preset, config: str = "twin-gripper",
              workers: int = 2, progress: bool = True,
              teleop: Path | None = None) -> dict[str, Any]:
    """Run every stage of ``row`` (each resumes); returns the evaluation's results.json."""
    from cliport_policy.clip_pretrain import main as clip_main
    from cliport_policy.eval_cli import main as eval_main
    from cliport_policy.train import main as train_main
    from cliport_sim.demos import generate

    task, n_row = ROWS[row]
    n = preset.train_demos or n_row
    data, here = out / "data", out / row
    if row in TELEOP_ROWS and teleop is None:
        raise SystemExit(f"--row {row} trains on teleop episodes: give --teleop-data")
    # what CLIP pre-training and the policy train on: the oracle demos, or the teleop links
    train_data = teleop_data_root(out, row, task, teleop) if row in TELEOP_ROWS else data
    run, clip = here / "run", here / "clip.safetensors"
    here.mkdir(parents=True, exist_ok=True)
    budget = StageBudget(here / "budget.json")

    def demos() -> None:
        from cliport_sim.dataset import EpisodeWriter, episode_dir

        modes = (("train", n), ("val", preset.val_demos))
        for mode, k in modes[1:] if row in TELEOP_ROWS else modes:
            with EpisodeWriter(episode_dir(data, task, mode)) as store:
                k = max(k, store.n_episodes)  # rows share the store: 10 demos are 100's first
            generate(task, mode, k, data, workers=workers, progress=progress,
                     observation=preset.observation, robot="panda")

    def scenes() -> None:
        if row in SCENE_ROWS:
            from cliport_sim.scene_captions import generate_scenes

            generate_scenes(out / "scenes", preset.scenes or SCENE_ROWS[row], robot="panda",
                            observation=preset.observation, progress=progress)

    def pretrain() -> None:
        if clip.is_file():  # resumes: a finished CLIP is kept
            return
        argv = ["--data", str(train_data), "--task", task, "--val-task", task, "--n-demos", str(n),
                "--steps", str(preset.clip_steps), "--out", str(clip), "--half"]
        if row in SCENE_ROWS:
            argv += ["--scenes", str(out / "scenes")]
        if clip_main(argv) != 0:
            raise SystemExit("CLIP pre-training failed (see above)")

    def train() -> None:
        left = budget.minutes_left("train", preset.train_minutes)  # over every sitting
        if not left:
            return
        argv = ["--config", config_file(here, config, preset.config_overrides), "--data",
                str(train_data), "--task", task, "--n-demos", str(n), "--out", str(run),
                "--clip-pretrained", str(clip), "--max-minutes", f"{left:.3f}",
                "--device", "cpu"]
        if preset.steps is not None:
            argv += ["--steps", str(preset.steps)]
        train_main(argv + ([] if progress else ["--quiet"]))

    def evaluate() -> None:
        argv = ["--run", str(run), "--task", task, "--robot", "panda",
                "--val-episodes", str(preset.val_episodes),
                "--test-episodes", str(preset.test_episodes), "--seeds", str(preset.seeds),
                "--workers", str(workers), "--observation", preset.observation,
                "--heatmaps", str(preset.heatmaps),
                "--method", METHODS[source]]
        eval_main(argv + ([] if progress else ["--quiet"]))

    source = "teleop" if row in TELEOP_ROWS else "scenes" if row in SCENE_ROWS else "oracle"
    for name, fn in (("demos", demos), ("scenes", scenes), ("clip", pretrain), ("train", train),
                     ("eval", evaluate)):
        budget.timed(name, fn)
    budget.finish(row=row, task=task, train_demos=n, preset=dataclasses.asdict(preset),
                  config=config, workers=workers)
    from cliport_policy.learning_curves import write_curves

    write_curves(run, here / "curves", title=f"{row}: {task}, {n} demos, on the Franka twin")
    return json.loads((run / "eval" / "results.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--row", required=True, choices=sorted(ROWS))
    ap.add_argument("--out", required=True, type=Path, help="data and rows go here")
    ap.add_argument("--teleop-data", type=Path, default=None,
                    help="the teleop rows' recorded episodes (a <task>-train folder)")
    ap.add_argument("--steps", type=positive_int,
                    help="override the config's training steps (a finished run resumes from "
                         "its last.ckpt and trains on to this step)")
    ap.add_argument("--clip-steps", type=positive_int,
                    help="override the preset's CLIP pre-training steps (a 10-demo row's 20 "
                         "images are fitted in far fewer than 100 demos' ~300)")
    add_run_arguments(ap, PRESETS, "twin-gripper")
    args = ap.parse_args(argv)
    preset = chosen_preset(args, PRESETS)
    if args.clip_steps is not None:
        preset = dataclasses.replace(preset, clip_steps=args.clip_steps)
    if args.steps is not None:  # checkpoints every SAVE_EVERY steps, as the config's
        preset = with_train_overrides(
            dataclasses.replace(preset, steps=args.steps),
            save_steps=list(range(SAVE_EVERY, args.steps + 1, SAVE_EVERY)))
    results = reproduce(args.out, args.row, preset, args.config, args.workers,
                        progress=not args.quiet, teleop=args.teleop_data)
    from cliport_policy.eval_cli import ci_text

    budget = json.loads((args.out / args.row / "budget.json").read_text())
    test = results["tasks"][ROWS[args.row][0]]["test"]
    print(f"{args.row}: test {100 * test['mean']:.1f} ± {ci_text(test)} "
          f"({results['checkpoint']}); {budget['cpu_minutes']:.1f} CPU minutes in all, "
          f"training {budget['train_cpu_minutes']:.1f}; budget in "
          f"{args.out / args.row / 'budget.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
