"""``cliport-train``: batched behaviour cloning of a policy from oracle demos.

    cliport-train --config tiny --data DATA --task put-block-in-bowl-seen-colors \
        --n-demos 100 --out runs/pbib-tiny
    cliport-train ... --task multi-language-conditioned       # a reference task set
    cliport-train ... --task put-block-in-bowl-seen-colors --task towers-of-hanoi-seq-seen-colors

Batches of B images (B x k crops for the transport) with cached text features, bf16 autocast
where the device computes bf16 natively (``train.precision``, :mod:`cliport_policy.cpu_isa`),
DDP under ``torchrun``, resume from ``last.ckpt``, validation per task
(:mod:`cliport_policy.validation`) and checkpoints at ``save_steps`` for ``cliport-eval`` to
select from (:mod:`cliport_policy.run_dir`). Several tasks (a list or a set name,
:mod:`cliport_policy.task_sets`) train one policy: a sample draws a task, then an episode
(docs/design.md#multitask-sampling-fix).

Why: the reference's batch-1 loop sees too few samples per CPU hour
(docs/design.md#prefused-batches).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cliport_common.cli import one_line_errors
from cliport_common.config import ConfigError
from cliport_policy import cpu_isa
from cliport_policy.agents import make_agent, trainable_parameters
from cliport_policy.augment import augment, augment_grasp
from cliport_policy.checkpoint import (
    CheckpointError,
    load_into,
    read_checkpoint,
    save_checkpoint,
)
from cliport_policy.clip_encoder import ClipWeightsError
from cliport_policy.config import (
    PolicyConfig,
    load_policy_config,
    policy_config_names,
    to_dict,
)
from cliport_policy.data import Batch, Sampler, all_samples
from cliport_policy.distributed import Dist
from cliport_policy.run_dir import (
    LAST,
    VAL_BEST,
    append_json,
    checkpoint_name,
    list_checkpoints,
    open_datasets,
    progress_bar,
    read_json,
    task_name,
    task_progress,
    tensorboard,
    unique_names,
    write_json,
)
from cliport_policy.task_sets import TaskSetError, resolve
from cliport_policy.train_report import capped_total, summary_line
from cliport_policy.validation import log_validation, update_val_best, validate_tasks
from cliport_sim.dataset import episode_dir

log = logging.getLogger("cliport_policy.train")


def lr_factor(tc, step: int) -> float:
    """The learning-rate multiplier for the update after ``step`` updates: ``lr_gamma`` to
    the power of the ``lr_steps`` already passed (a step schedule, as MultiStepLR)."""
    return float(tc.lr_gamma) ** sum(1 for s in tc.lr_steps if step >= s)


def clip_gradients(optimizers: dict[str, torch.optim.Optimizer], max_norm: float
                   ) -> dict[str, float]:
    """Clip each network's gradient to ``max_norm`` (its own norm: the pick and place
    losses differ in scale); returns the norms before clipping, by optimiser name.
    ``max_norm`` 0 (``train.grad_clip``'s "off") clips nothing and returns ``{}``.

    Why: one place-loss spike can kill the key behind the fusion ReLU for good; clipping
    bounds the spike's weight in Adam's moments (docs/notes/transport-collapse.md).
    """
    norms: dict[str, float] = {}
    if max_norm <= 0:
        return norms
    for name, opt in optimizers.items():
        params = [p for group in opt.param_groups for p in group["params"]]
        norms[name] = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    return norms


def train(config: PolicyConfig, train_dirs: list[Path], out: Path,
          val_dirs: list[Path] | None = None, n_demos: int | None = None,
          device: str = "cpu", progress: bool = True, max_seconds: float | None = None,
          task_weights: list[float] | tuple[float, ...] | None = None,
          task_set: str | None = None) -> dict[str, Any]:
    """Train (or resume) a run in ``out``; returns the final metrics.

    ``task_weights``: the train datasets' sampling probabilities (default uniform);
    ``task_set``: the set's name, recorded in the checkpoints.
    """
    tc = config.train
    choice = cpu_isa.choose(tc.precision if tc.amp else "fp32", torch.device(device).type)
    cpu_isa.limit_for_training(choice)  # before this process's first convolution, if it is
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    dist = Dist(torch.device(device))
    dev = dist.device
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    if dist.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed)  # the same initial weights on every rank
    agent = make_agent(config.model).to(dev)
    agent.train()
    agent.precision = choice.precision  # validation's acting too
    if dist.main:
        log.info("precision %s (%s)", choice.precision, choice.reason)
    pick_params, place_params = trainable_parameters(agent)
    optimizers = {"attention": torch.optim.Adam(pick_params, lr=tc.lr),
                  "transport": torch.optim.Adam(place_params, lr=tc.transport_lr or tc.lr)}
    base_lr = {"attention": tc.lr, "transport": tc.transport_lr or tc.lr}
    rng = np.random.default_rng([tc.seed, dist.rank])
    step = 0
    train_names = unique_names([task_name(d) for d in train_dirs])
    task_samples = dict.fromkeys(train_names, 0)  # this rank's draws per task, over resumes
    last = ckpt_dir / LAST
    if last.is_file():
        try:
            state = read_checkpoint(last)
            load_into(agent, last, state)
        except CheckpointError as exc:  # the CLI prints it in one line, rc 2
            raise CheckpointError(f"cannot resume: {exc}") from None
        for name, opt in optimizers.items():
            if name in state["optimizers"]:
                opt.load_state_dict(state["optimizers"][name])
        step = int(state["step"])
        was = state["extra"].get("train_tasks")
        if was is not None and list(was) != train_names:
            raise ConfigError(f"cannot resume {last}: it was trained on {list(was)}, not "
                              f"{train_names}; use another --out")
        rng_state = state["extra"].get("rng", {}).get(str(dist.rank))
        if rng_state:
            rng.bit_generator.state = json.loads(rng_state)
        task_samples.update({k: int(v) for k, v in
                             state["extra"].get("task_samples", {}).items()
                             if k in task_samples})
        if dist.main:
            log.info("resumed %s at step %d", last, step)
    attention, transport = dist.wrap(agent.attention), dist.wrap(agent.transport)
    datasets = open_datasets(train_dirs, n_demos, tc.cache_episodes)
    sampler = Sampler(datasets, rng, config.model.place_rotations, task_weights,
                      config.model.pick_rotations)
    val_items: dict[str, list[tuple[int, dict]]] = {}
    if val_dirs and dist.main:
        vds = open_datasets(val_dirs, None, 0)
        for t, (name, ds) in enumerate(zip(unique_names([task_name(d) for d in val_dirs]), vds,
                                           strict=True)):
            val_items[name] = [(t, ds.sample(e, s))
                               for _, e, s in all_samples([ds])[:tc.val_samples]]
    val_best: dict[str, Any] = read_json(out / VAL_BEST) if dist.main else {}
    interval = {name: [0, 0.0, 0.0] for name in train_names}  # samples, sums since the log
    n_rot = config.model.place_rotations
    writer = tensorboard(out / "tb") if dist.main else None
    per_rank = max(1, tc.batch_size // dist.world)
    metrics: dict[str, Any] = {}
    t_start = time.perf_counter()
    bar = progress_bar(progress and dist.main, tc.steps, step)
    bar_start, out_of_time = step, False
    seen = 0
    while step < tc.steps:
        batch: Batch = sampler.batch(per_rank).to(dev)
        img, pick, place = batch.img, batch.pick, batch.place
        pick_rot = batch.pick_rot
        if tc.augment and batch.pick_yaw is not None:  # a gripper's grasp yaw turns too
            img, pick, place, pick_rot = augment_grasp(
                img, pick, place, batch.pick_yaw, config.model.pick_rotations,
                batch.instructions, tc.theta_sigma, tc.translation_sigma, tc.absolute_words, rng)
        elif tc.augment:
            img, pick, place = augment(img, pick, place, batch.instructions, tc.theta_sigma,
                                       tc.translation_sigma, tc.absolute_words, rng)
        with cpu_isa.autocast(choice.precision, dev.type):
            lp_each, lq_each = agent.losses(img, batch.instructions, pick, place,
                                            pick_rot, batch.place_rot, attention,
                                            transport, reduction="none")
            lp, lq = lp_each.mean(), lq_each.mean()
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        (lp + lq).backward()
        grad_norms = clip_gradients(optimizers, tc.grad_clip)
        factor = lr_factor(tc, step)  # from the config every step: resumes follow it too
        for name, opt in optimizers.items():
            for group in opt.param_groups:
                group["lr"] = base_lr[name] * factor
            opt.step()
        step += 1
        seen += per_rank * dist.world
        lp_v, lq_v = float(lp.detach()), float(lq.detach())
        for t, a, b in zip(batch.tasks, lp_each.detach().tolist(), lq_each.detach().tolist(),
                           strict=True):
            acc = interval[train_names[t]]
            acc[0] += 1
            acc[1] += a
            acc[2] += b
            task_samples[train_names[t]] += 1
        metrics = {"step": step, "pick_loss": lp_v, "place_loss": lq_v,
                   **{f"{name}_grad_norm": v for name, v in grad_norms.items()}}
        if bar is not None:
            if max_seconds:  # the ETA of the step the time cap lets the run reach
                bar.total = capped_total(step - bar_start, time.perf_counter() - t_start,
                                         tc.steps - bar_start, max_seconds) + bar_start
            bar.update(1)
            bar.set_postfix(pick=f"{lp_v:.3f}", place=f"{lq_v:.3f}")
        if dist.main and step % tc.log_every == 0:
            elapsed = time.perf_counter() - t_start
            rate = seen / max(elapsed, 1e-9)
            tasks = task_progress(interval, task_samples)
            if writer is not None:
                writer.add_scalar("train/pick_loss", lp_v, step)
                writer.add_scalar("train/place_loss", lq_v, step)
                writer.add_scalar("train/samples_per_second", rate, step)
                for name, v in grad_norms.items():
                    writer.add_scalar(f"train/{name}_grad_norm", v, step)
                if len(tasks) > 1:
                    for name, row in tasks.items():
                        for k, v in row.items():
                            if v is not None:
                                writer.add_scalar(f"train_{name}/{k}", v, step)
            append_json(out / "train_log.jsonl", {**metrics, "samples_per_second": rate,
                                                   "seconds": elapsed, "tasks": tasks})
        if val_items and (step % tc.val_every == 0 or step in tc.save_steps):
            metrics.update(validate_tasks(agent, val_items, per_rank, n_rot))
            log_validation(step, metrics)
            if update_val_best(val_best, step, metrics):
                write_json(out / VAL_BEST, val_best)
            if writer is not None:
                for k, v in metrics.items():
                    if k.startswith("val_") and k != "val_tasks":
                        writer.add_scalar(f"val/{k[4:]}", v, step)
                if len(metrics["val_tasks"]) > 1:
                    for name, m in metrics["val_tasks"].items():
                        for k, v in m.items():
                            writer.add_scalar(f"val_{name}/{k}", v, step)
        out_of_time = max_seconds is not None and time.perf_counter() - t_start > max_seconds
        if dist.main and (step in tc.save_steps or step % tc.last_every == 0
                          or step == tc.steps or out_of_time):
            extra = {"train": to_dict(tc), "metrics": metrics,
                     "rng": {str(dist.rank): json.dumps(rng.bit_generator.state)},
                     "train_dirs": [str(d) for d in train_dirs], "n_demos": n_demos,
                     "train_tasks": train_names, "task_set": task_set,
                     "task_weights": list(task_weights) if task_weights else None,
                     "task_samples": dict(task_samples)}
            if step in tc.save_steps or step == tc.steps or out_of_time:  # a capped run
                save_checkpoint(ckpt_dir / checkpoint_name(step), agent, step, None, extra)
            save_checkpoint(last, agent, step, optimizers, extra)
            append_json(out / "metrics.jsonl", metrics)
        if out_of_time:
            break
    dist.barrier()
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    elapsed = time.perf_counter() - t_start
    metrics["seconds"] = elapsed
    metrics["samples_per_second"] = seen / max(elapsed, 1e-9)
    metrics["stopped_by_time"] = out_of_time
    metrics["precision"] = choice.precision
    dist.close()
    return metrics


@one_line_errors("cliport-train", CheckpointError, ClipWeightsError)
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="policy",
                    help="a YAML file or a config name in cliport_policy/config: "
                         f"{', '.join(policy_config_names())} (default: policy)")
    ap.add_argument("--data", required=True, type=Path, help="root of the demo directories")
    ap.add_argument("--task", required=True, action="append",
                    help="task name (repeat for several) or a task set (multi-language-"
                    "conditioned, multi-attr-<task>); reads DATA/TASK-train and -val")
    ap.add_argument("--n-demos", type=int, default=None, help="first N episodes of each task")
    ap.add_argument("--out", required=True, type=Path, help="run directory (resumed if present)")
    ap.add_argument("--steps", type=int, help="override train.steps")
    ap.add_argument("--batch-size", type=int, help="override train.batch_size")
    ap.add_argument("--clip-pretrained", metavar="PATH_OR_URL",
                    help="override model.clip.pretrained: an open_clip tag or a weights file "
                         "(e.g. one written by cliport-pretrain-clip)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--max-minutes", type=float, help="stop (and save) after this long")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_policy_config(args.config)
    overrides = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size))
                 if v is not None}
    if overrides:
        cfg = replace(cfg, train=replace(cfg.train, **overrides))
    if args.clip_pretrained:
        clip = args.clip_pretrained
        if Path(clip).is_file():  # the run's config then loads from any working directory
            clip = str(Path(clip).resolve())
        cfg = replace(cfg, model=cfg.model.with_clip_pretrained(clip))
    try:
        ts = resolve(args.task)
    except TaskSetError as exc:
        ap.error(str(exc))
    train_dirs = [episode_dir(args.data, t, "train") for t in ts.train]
    val_dirs = [d for d in (episode_dir(args.data, t, "val") for t in ts.eval) if d.is_dir()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(
        {"config": to_dict(cfg), "tasks": args.task, "task_set": ts.name, "kind": ts.kind,
         "train_tasks": list(ts.train), "eval_tasks": list(ts.eval),
         "task_weights": list(ts.weights), "n_demos": args.n_demos, "data": str(args.data)},
        indent=2))
    if len(ts.train) > 1:
        log.info("task set %s: training on %s (weights %s), validating on %s", ts.name,
                 ", ".join(ts.train), ", ".join(f"{w:.3f}" for w in ts.weights),
                 ", ".join(task_name(d) for d in val_dirs) or "nothing (no val sets)")
    metrics = train(cfg, train_dirs, args.out, val_dirs, args.n_demos, args.device,
                    progress=not args.quiet,
                    max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                    task_weights=ts.weights, task_set=ts.name)
    saved = list_checkpoints(args.out)
    print(summary_line(metrics, cfg.train.steps, args.out, args.max_minutes,
                       saved[-1] if saved else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
