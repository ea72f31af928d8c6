"""Validation during training: losses, argmax errors and language grounding on fixed val
samples, per task and averaged over tasks, and the best step so far.

Why: the training log shows per task whether the policy improves where it is tested.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from cliport_policy.agents import Agent
from cliport_policy.data import collate

log = logging.getLogger("cliport_policy.train")


@torch.no_grad()
def validate(agent: Agent, val: list[tuple[int, dict]], batch_size: int,
             place_rotations: int = 36) -> dict[str, float]:
    """Mean losses and argmax errors (pixels, rotation bins) on fixed validation samples."""
    agent.eval()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}  # metrics not defined on every sample
    n = 0
    for i in range(0, len(val), batch_size):
        b = collate(val[i:i + batch_size], place_rotations,
                    agent.config.pick_rotations).to(agent.device)
        lp, lq = agent.losses(b.img, b.instructions, b.pick, b.place, b.pick_rot, b.place_rot)
        decisions = agent.act_batch(b.img, b.instructions)
        k = len(b.instructions)
        for j, d in enumerate(decisions):
            pe = float(np.hypot(*(np.subtract(d.pick[:2], b.pick[j].tolist()))))
            qe = float(np.hypot(*(np.subtract(d.place[:2], b.place[j].tolist()))))
            kr = agent.config.place_rotations
            re = abs(d.place[2] - int(b.place_rot[j])) % kr
            kp = agent.config.pick_rotations
            pr = abs(d.pick[2] - int(b.pick_rot[j])) % kp  # grasp-yaw bins (0 for suction)
            for key, val_ in (("pick_px_error", pe), ("place_px_error", qe),
                              ("place_rot_error", min(re, kr - re)),
                              ("pick_rot_error", min(pr, kp - pr)),
                              ("pick_within_3px", float(pe <= 3)),
                              ("place_within_3px", float(qe <= 3))):
                sums[key] = sums.get(key, 0.0) + val_
        tv, m = pick_language_tv(agent, b.img, b.instructions)
        if m:
            sums["pick_language_tv"] = sums.get("pick_language_tv", 0.0) + tv * m
            counts["pick_language_tv"] = counts.get("pick_language_tv", 0) + m
        sums["pick_loss"] = sums.get("pick_loss", 0.0) + float(lp) * k
        sums["place_loss"] = sums.get("place_loss", 0.0) + float(lq) * k
        n += k
    agent.train()
    return {k: v / max(counts.get(k, n), 1) for k, v in sums.items()}


@torch.no_grad()
def pick_language_tv(agent: Agent, img: torch.Tensor, instructions: list[str]
                     ) -> tuple[float, int]:
    """How much the instruction moves the pick: the mean total-variation distance between
    each sample's pick distribution under its own instruction and under the next sample's
    (another one; samples whose neighbour has the same instruction are skipped).

    0 = the language is ignored (a model can lower its loss a long way by picking any
    object before it grounds colours); 1 = disjoint maps. Returns (mean, samples counted).
    """
    k = len(instructions)
    other = [instructions[(j + 1) % k] for j in range(k)]
    keep = [j for j in range(k) if other[j] != instructions[j]]
    if not keep:
        return 0.0, 0
    if agent.clip is None:  # no language input at all (transporter-only)
        return 0.0, len(keep)
    x = img[keep]
    own = agent.attention(x, agent.text_features([instructions[j] for j in keep]))
    alt = agent.attention(x, agent.text_features([other[j] for j in keep]))
    p = torch.softmax(own.flatten(1).float(), -1)
    q = torch.softmax(alt.flatten(1).float(), -1)
    return float(0.5 * (p - q).abs().sum(-1).mean()), len(keep)


def validate_tasks(agent: Agent, val: dict[str, list[tuple[int, dict]]], batch_size: int,
                   place_rotations: int = 36) -> dict[str, Any]:
    """:func:`validate` per task; ``val_<metric>`` is the mean over tasks (each task counts
    once, whatever its number of samples), ``val_tasks`` holds every task's metrics."""
    per_task = {name: validate(agent, items, batch_size, place_rotations)
                for name, items in val.items() if items}
    out: dict[str, Any] = {}
    if per_task:
        keys = next(iter(per_task.values())).keys()
        out = {f"val_{k}": float(np.mean([m[k] for m in per_task.values()])) for k in keys}
    out["val_tasks"] = per_task
    return out


def _val_loss(m: dict[str, float]) -> float:
    return float(m["pick_loss"] + m["place_loss"])


def update_val_best(best: dict[str, Any], step: int, val: dict[str, Any]) -> bool:
    """Record the step of the lowest val loss (pick + place), of the mean over tasks and of
    each task. Informational: losses rank checkpoints poorly (multi-modal actions, spec
    3.7); cliport-eval selects on rollouts. True when anything improved."""
    changed = False
    tasks = val.get("val_tasks", {})
    if tasks:
        mean = float(np.mean([_val_loss(m) for m in tasks.values()]))
        if "mean" not in best or mean < best["mean"]["loss"]:
            best["mean"] = {"step": step, "loss": mean}
            changed = True
    for name, m in tasks.items():
        per = best.setdefault("tasks", {})
        if name not in per or _val_loss(m) < per[name]["loss"]:
            per[name] = {"step": step, "loss": _val_loss(m)}
            changed = True
    return changed


def log_validation(step: int, metrics: dict[str, Any]) -> None:
    rows = dict(metrics["val_tasks"])
    if len(rows) > 1:
        rows["mean over tasks"] = {k[4:]: v for k, v in metrics.items()
                                   if k.startswith("val_") and k != "val_tasks"}
    for name, m in rows.items():
        log.info("step %d val %s: pick loss %.3f, place loss %.3f, pick within 3 px %.0f %%, "
                 "place within 3 px %.0f %%", step, name, m["pick_loss"], m["place_loss"],
                 100 * m["pick_within_3px"], 100 * m["place_within_3px"])

