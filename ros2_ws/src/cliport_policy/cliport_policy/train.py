"""``cliport-train``: batched behaviour cloning of a policy from oracle demos.

    cliport-train --config tiny --data DATA --task put-block-in-bowl-seen-colors \
        --n-demos 100 --out runs/pbib-tiny

What it does beyond the reference's batch-1 loop (spec 3.7, 8.1, 9.1-9.3): batches of B
images (B x 36 crops for the transport), text features cached per instruction, the frozen
CLIP shared and kept in eval mode, bf16 autocast on a GPU, DDP when started by ``torchrun``
(each rank draws its own samples; rank 0 logs and saves), resume from ``last.ckpt`` (weights,
optimisers, step and sampler state), validation losses and pixel errors every
``val_every`` steps, TensorBoard scalars, a progress bar, and checkpoints at ``save_steps``
for rollout-based selection by ``cliport-eval``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cliport_policy.agents import Agent, make_agent, trainable_parameters
from cliport_policy.augment import augment
from cliport_policy.checkpoint import (
    CheckpointError,
    load_into,
    read_checkpoint,
    save_checkpoint,
)
from cliport_policy.config import PolicyConfig, load_policy_config, to_dict
from cliport_policy.data import Batch, Sampler, all_samples, collate
from cliport_sim.dataset import Dataset, DatasetError, episode_dir

log = logging.getLogger("cliport_policy.train")

LAST = "last.ckpt"


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.ckpt"


def list_checkpoints(run: str | os.PathLike) -> list[Path]:
    """The run's numbered checkpoints, by step (``last.ckpt`` excluded)."""
    return sorted((Path(run) / "checkpoints").glob("step-*.ckpt"))


class _Dist:
    """torchrun's environment, or a single process."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.world > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids)

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _open_datasets(dirs: list[Path], n_demos: int | None, cache: int) -> list[Dataset]:
    out = []
    for d in dirs:
        try:
            out.append(Dataset(d, n_demos=n_demos, cache_episodes=cache))
        except DatasetError as exc:
            raise SystemExit(f"cliport-train: {exc}") from exc
    return out


@torch.no_grad()
def validate(agent: Agent, val: list[tuple[int, dict]], batch_size: int,
             place_rotations: int = 36) -> dict[str, float]:
    """Mean losses and argmax errors (pixels, rotation bins) on fixed validation samples."""
    agent.eval()
    sums: dict[str, float] = {}
    n = 0
    for i in range(0, len(val), batch_size):
        b = collate(val[i:i + batch_size], place_rotations).to(agent.device)
        lp, lq = agent.losses(b.img, b.instructions, b.pick, b.place, b.pick_rot, b.place_rot)
        decisions = agent.act_batch(b.img, b.instructions)
        k = len(b.instructions)
        for j, d in enumerate(decisions):
            pe = float(np.hypot(*(np.subtract(d.pick[:2], b.pick[j].tolist()))))
            qe = float(np.hypot(*(np.subtract(d.place[:2], b.place[j].tolist()))))
            kr = agent.config.place_rotations
            re = abs(d.place[2] - int(b.place_rot[j])) % kr
            for key, val_ in (("pick_px_error", pe), ("place_px_error", qe),
                              ("place_rot_error", min(re, kr - re)),
                              ("pick_within_3px", float(pe <= 3)),
                              ("place_within_3px", float(qe <= 3))):
                sums[key] = sums.get(key, 0.0) + val_
        sums["pick_loss"] = sums.get("pick_loss", 0.0) + float(lp) * k
        sums["place_loss"] = sums.get("place_loss", 0.0) + float(lq) * k
        n += k
    agent.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def train(config: PolicyConfig, train_dirs: list[Path], out: Path,
          val_dirs: list[Path] | None = None, n_demos: int | None = None,
          device: str = "cpu", progress: bool = True, max_seconds: float | None = None
          ) -> dict[str, Any]:
    """Train (or resume) a run in ``out``; returns the final metrics."""
    tc = config.train
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    dist = _Dist(torch.device(device))
    dev = dist.device
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    if dist.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed)  # the same initial weights on every rank
    agent = make_agent(config.model).to(dev)
    agent.train()
    pick_params, place_params = trainable_parameters(agent)
    optimizers = {"attention": torch.optim.Adam(pick_params, lr=tc.lr),
                  "transport": torch.optim.Adam(place_params, lr=tc.transport_lr or tc.lr)}
    rng = np.random.default_rng([tc.seed, dist.rank])
    step = 0
    last = ckpt_dir / LAST
    if last.is_file():
        try:
            state = read_checkpoint(last)
            load_into(agent, last, state)
        except CheckpointError as exc:
            raise SystemExit(f"cliport-train: cannot resume: {exc}") from exc
        for name, opt in optimizers.items():
            if name in state["optimizers"]:
                opt.load_state_dict(state["optimizers"][name])
        step = int(state["step"])
        rng_state = state["extra"].get("rng", {}).get(str(dist.rank))
        if rng_state:
            rng.bit_generator.state = json.loads(rng_state)
        if dist.main:
            log.info("resumed %s at step %d", last, step)
    attention, transport = dist.wrap(agent.attention), dist.wrap(agent.transport)
    datasets = _open_datasets(train_dirs, n_demos, tc.cache_episodes)
    sampler = Sampler(datasets, rng, config.model.place_rotations)
    val_items: list[tuple[int, dict]] = []
    if val_dirs and dist.main:
        vds = _open_datasets(val_dirs, None, 0)
        val_items = [(t, vds[t].sample(e, s)) for t, e, s in all_samples(vds)][:tc.val_samples]
    n_rot = config.model.place_rotations
    writer = _tensorboard(out / "tb") if dist.main else None
    per_rank = max(1, tc.batch_size // dist.world)
    amp = tc.amp and dev.type == "cuda"
    metrics: dict[str, Any] = {}
    t_start = time.perf_counter()
    bar = _progress(progress and dist.main, tc.steps, step)
    seen = 0
    while step < tc.steps:
        batch: Batch = sampler.batch(per_rank).to(dev)
        img, pick, place = batch.img, batch.pick, batch.place
        if tc.augment:
            img, pick, place = augment(img, pick, place, batch.instructions, tc.theta_sigma,
                                       tc.translation_sigma, tc.absolute_words, rng)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            lp, lq = agent.losses(img, batch.instructions, pick, place, batch.pick_rot,
                                  batch.place_rot, attention, transport)
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        (lp + lq).backward()
        for opt in optimizers.values():
            opt.step()
        step += 1
        seen += per_rank * dist.world
        lp_v, lq_v = float(lp.detach()), float(lq.detach())
        metrics = {"step": step, "pick_loss": lp_v, "place_loss": lq_v}
        if bar is not None:
            bar.update(1)
            bar.set_postfix(pick=f"{lp_v:.3f}", place=f"{lq_v:.3f}")
        if dist.main and step % tc.log_every == 0:
            elapsed = time.perf_counter() - t_start
            rate = seen / max(elapsed, 1e-9)
            if writer is not None:
                writer.add_scalar("train/pick_loss", lp_v, step)
                writer.add_scalar("train/place_loss", lq_v, step)
                writer.add_scalar("train/samples_per_second", rate, step)
            _append_json(out / "train_log.jsonl", {**metrics, "samples_per_second": rate,
                                                   "seconds": elapsed})
        if val_items and (step % tc.val_every == 0 or step in tc.save_steps):
            metrics.update({f"val_{k}": v for k, v in validate(agent, val_items, per_rank,
                                                                n_rot).items()})
            if writer is not None:
                for k, v in metrics.items():
                    if k.startswith("val_"):
                        writer.add_scalar(f"val/{k[4:]}", v, step)
        out_of_time = max_seconds is not None and time.perf_counter() - t_start > max_seconds
        if dist.main and (step in tc.save_steps or step % tc.last_every == 0
                          or step == tc.steps or out_of_time):
            extra = {"train": to_dict(tc), "metrics": metrics,
                     "rng": {str(dist.rank): json.dumps(rng.bit_generator.state)},
                     "train_dirs": [str(d) for d in train_dirs], "n_demos": n_demos}
            if step in tc.save_steps or step == tc.steps:
                save_checkpoint(ckpt_dir / checkpoint_name(step), agent, step, None, extra)
            save_checkpoint(last, agent, step, optimizers, extra)
            _append_json(out / "metrics.jsonl", metrics)
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
    dist.close()
    return metrics


def _append_json(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional at run time
        log.warning("tensorboard is not installed: no TensorBoard logs")
        return None
    return SummaryWriter(str(path))


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="policy",
                    help="a YAML file or a config name in cliport_policy/config (policy, tiny)")
    ap.add_argument("--data", required=True, type=Path, help="root of the demo directories")
    ap.add_argument("--task", required=True, action="append",
                    help="task name (repeat for several); reads DATA/TASK-train and -val")
    ap.add_argument("--n-demos", type=int, default=None, help="first N episodes of each task")
    ap.add_argument("--out", required=True, type=Path, help="run directory (resumed if present)")
    ap.add_argument("--steps", type=int, help="override train.steps")
    ap.add_argument("--batch-size", type=int, help="override train.batch_size")
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
    train_dirs = [episode_dir(args.data, t, "train") for t in args.task]
    val_dirs = [d for d in (episode_dir(args.data, t, "val") for t in args.task) if d.is_dir()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(
        {"config": to_dict(cfg), "tasks": args.task, "n_demos": args.n_demos,
         "data": str(args.data)}, indent=2))
    metrics = train(cfg, train_dirs, args.out, val_dirs, args.n_demos, args.device,
                    progress=not args.quiet,
                    max_seconds=args.max_minutes * 60 if args.max_minutes else None)
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
