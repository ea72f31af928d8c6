"""``cliport-eval``'s command line (the evaluation itself: :mod:`cliport_policy.evaluate`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from cliport_common.cli import one_line_errors
from cliport_policy.checkpoint import CheckpointError
from cliport_policy.cpu_isa import ENV_PRECISION, PRECISIONS
from cliport_policy.evaluate import EvaluationError, evaluate_run
from cliport_policy.evaluate import __doc__ as EVAL_DOC
from cliport_policy.task_sets import TaskSetError
from cliport_sim.tasks import UnknownTaskError

DESCRIPTION = (EVAL_DOC or "").split("\n\n")[0]


def ci_text(summary: dict) -> str:
    """The CI half-width in percent, ``n/a`` over fewer than two seeds (no spread to show)."""
    if int(summary.get("n_seeds", 0)) < 2:
        return "n/a"
    return f"{100 * summary['ci95']:.1f}"


@one_line_errors("cliport-eval", CheckpointError, TaskSetError, UnknownTaskError,
                 EvaluationError)
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-eval", description=DESCRIPTION)
    ap.add_argument("--run", required=True, type=Path, help="a cliport-train run directory")
    ap.add_argument("--task", action="append",
                    help="task to evaluate (repeat for several), e.g. put-block-in-bowl-"
                    "unseen-colors, or a task set (its evaluation tasks); default: the "
                    "run's own")
    ap.add_argument("--checkpoint", type=Path, action="append",
                    help="evaluate only these checkpoints (default: all of the run)")
    ap.add_argument("--val-episodes", type=int,
                    help="val episodes per checkpoint for the selection (default 100; given, "
                         "a single checkpoint is validated too)")
    ap.add_argument("--test-episodes", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3, help="evaluation seeds for the test")
    ap.add_argument("--workers", type=int, default=1, help="simulator processes")
    ap.add_argument("--clip-pretrained", help="where the frozen CLIP weights are here")
    ap.add_argument("--observation", default="views", choices=("views", "orthographic"))
    ap.add_argument("--robot", default="ur5", choices=("ur5", "panda"),
                    help="the world's arm: ur5 (suction, default) or panda (the Franka twin, "
                         "for policies trained on its demos)")
    ap.add_argument("--heatmaps", type=int, default=2, help="test episodes drawn as PNGs")
    ap.add_argument("--save-video", type=int, default=0, metavar="N",
                    help="the first N test episodes of each task as MP4 + GIF videos of the "
                         "arm, with an index.html report (eval/videos/<task>/)")
    ap.add_argument("--method", help="the table's row name (default from the agent and the "
                    "training tasks, e.g. 'CLIPort (multi)')")
    ap.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="acting's compute precision: auto (bf16 autocast where the CPU "
                         f"computes it natively, else fp32; ${ENV_PRECISION} decides it when "
                         "set), fp32 or bf16")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.precision != "auto":  # what "auto" means in this process and its workers
        os.environ[ENV_PRECISION] = args.precision
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = _evaluate(args)
    for t, r in result["tasks"].items():
        test = r["test"]
        print(f"{t}: {100 * test['mean']:.1f} ± {ci_text(test)} "
              f"(95 % CI over {test['n_seeds']} seed(s) x {args.test_episodes} episodes; "
              f"success rate {100 * test['success_rate']:.1f} %)")
    if len(result["tasks"]) > 1:
        print(f"mean over {len(result['tasks'])} tasks: {100 * result['mean']:.1f} ± "
              f"{ci_text(result)} (95 % CI over {result['n_seeds']} seed(s))")
    print(f"checkpoint {result['checkpoint']}; table: {args.run / 'eval' / 'table.md'}")
    print(json.dumps({k: v for k, v in result.items() if k not in ("tasks", "selection")}))
    return 0


def _evaluate(args) -> dict:
    return evaluate_run(args.run, args.task, 100 if args.val_episodes is None
                        else args.val_episodes, args.test_episodes,
                        args.seeds, args.workers, args.clip_pretrained, args.observation,
                        args.heatmaps, args.checkpoint, progress=not args.quiet,
                        method=args.method, video_episodes=args.save_video,
                        validate_one=args.val_episodes is not None, robot=args.robot)

