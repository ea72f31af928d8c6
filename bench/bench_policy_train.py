"""policy_train: training samples/s, our batched step vs the reference-style batch-1 loop.

Ours: ``Agent.losses`` on a batch of B = 8 (pick attention on B images, transport on B images
and B x 36 crops, FFT correlation, cached sentence features), ``(pick + place).backward()``,
then each network's gradient clipped as the config trains (``train.grad_clip``, norm 1 for
``tiny``) and the two Adam steps. Baseline:
:meth:`reference_policy.ReferenceAgent.train_step`, one sample at a time as the
reference trains (three uncached text passes, whole-image rotations, ``conv2d(padding=32)``
+ resize correlation, a one-hot label volume; pick and place each backpropagated and
stepped), with its fastest CPU setting (oneDNN off for the correlation's forward, on for its
backward, see ``reference_policy.conv2d``). No augmentation in either. Both on the same agent (same
architecture and weights at the start), fp32, 2 torch threads with ``OMP_WAIT_POLICY=PASSIVE``
(see ``omp_passive``), one process; the two are timed alternately so both see the same
machine load.

Also the recipes (``$CLIPORT_BENCH_RECIPE``, default ``cpu,cpu-strided``: the CPU-sized
configuration and its strided variant), each at the precision its ``train.precision``
chooses on this CPU (bf16 where it is native, :mod:`cliport_policy.cpu_isa`), against
today's ``tiny12-simclip`` fp32 step, each at its own batch size and torch threads
(``train.threads``: 1 for all), timed in turn, each timed step right after an untimed one
of the same model: ``vs_tiny12_simclip`` is the ratio of ``cpu``'s samples/s to
``tiny12-simclip``'s (each recipe's own ratio under ``recipes``). Why the untimed step: a
step right after another model's is up to 1.4x slower (the other's buffers were freed to
the system and its own are faulted in afresh), while a training run repeats one model.
The JSON carries the load average before and after.

Config: ``tiny`` in both modes (``--quick``: one timed step of each, no warm-up). A
paper-size B = 8 training step takes minutes on this 2-core CPU (estimate: 8 samples x ~3
forward-equivalents x a several-second paper-size forward), beyond the 3 min budget of one
benchmark; set
``CLIPORT_BENCH_TRAIN_CONFIG=policy`` to run it anyway (CLIP RN50 with random weights).
Samples are random images and labels, or drawn from the episodes in ``$CLIPORT_BENCH_DEMOS``
(a directory written by ``cliport-demos``).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_policy_act import omp_passive  # bench/ is on sys.path (run.py)

BATCH = 8
BASELINE_RECIPE = "tiny12-simclip"  # today's CPU training recipe, at fp32
# the CPU-sized recipe (config/cpu.yaml) measured against it, and its variant with the pick
# and key FCNs on 2 x 2 cells: faster, learns placing worse
RECIPES = ("cpu", "cpu-strided")
INSTRUCTIONS = ("put the red block in the blue bowl", "put the green block in the yellow bowl",
                "pack the blue block into the brown box", "put the white block in the red bowl")


def bench_model(name: str):
    from cliport_policy.config import load_policy_config

    model = load_policy_config(name).model
    if name == "policy":
        model = dataclasses.replace(model, clip=dataclasses.replace(model.clip,
                                                                    pretrained="random"))
    if "pick_pad_square" in {f.name for f in dataclasses.fields(model)}:
        # as the reference (and bench_policy_act): equal work per sample in both
        model = dataclasses.replace(model, pick_pad_square=True)
    return model


def random_batch(rng: np.random.Generator, n: int, k: int, h: int = 320, w: int = 160):
    import torch

    from cliport_policy.agents import image_tensor
    from cliport_policy.data import Batch

    color = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    height = rng.uniform(0.0, 0.1, (n, h, w)).astype(np.float32)

    def cells() -> torch.Tensor:
        return torch.as_tensor(np.stack([rng.integers(0, h, n), rng.integers(0, w, n)], 1))

    return Batch(image_tensor(color, height), [INSTRUCTIONS[i % len(INSTRUCTIONS)]
                                               for i in range(n)],
                 cells(), cells(), torch.zeros(n, dtype=torch.long),
                 torch.as_tensor(rng.integers(0, k, n)), [0] * n)


def demo_batches(path: str, rng: np.random.Generator, n_batches: int, n: int = BATCH,
                 k: int = 36):
    from cliport_policy.data import Sampler
    from cliport_sim.dataset import Dataset

    sampler = Sampler([Dataset(Path(path))], rng, k)
    return [sampler.batch(n) for _ in range(n_batches)]


def train_step(agent, opts, b, grad_clip: float, precision: str = "fp32"
               ) -> tuple[float, float]:
    """One step as ``cliport-train`` takes it: the losses under ``precision``'s autocast,
    ``(pick + place).backward()``, each network's gradient clipped, the Adam steps."""
    from cliport_policy import cpu_isa
    from cliport_policy.train import clip_gradients

    with cpu_isa.autocast(precision):
        lp, lq = agent.losses(b.img, b.instructions, b.pick, b.place, b.pick_rot, b.place_rot)
    for opt in opts.values():
        opt.zero_grad(set_to_none=True)
    (lp + lq).backward()
    clip_gradients(opts, grad_clip)
    for opt in opts.values():
        opt.step()
    return float(lp.detach()), float(lq.detach())


def _trainer(name: str, precision: str, rng: np.random.Generator, n_batches: int
             ) -> dict[str, Any]:
    """A config's agent (seed 0), its two Adams, batches of its own size, as it trains."""
    import torch

    from cliport_policy.agents import make_agent, trainable_parameters
    from cliport_policy.config import load_policy_config

    cfg = load_policy_config(name)
    torch.manual_seed(0)
    agent = make_agent(cfg.model).train()
    pick, place = trainable_parameters(agent)
    tc = cfg.train
    opts = {"attention": torch.optim.Adam(pick, lr=tc.lr),
            "transport": torch.optim.Adam(place, lr=tc.transport_lr or tc.lr)}
    n, k = tc.batch_size, cfg.model.place_rotations
    demos = os.environ.get("CLIPORT_BENCH_DEMOS")
    batches = (demo_batches(demos, rng, n_batches, n, k) if demos else
               [random_batch(rng, n, k) for _ in range(n_batches)])
    return {"config": name, "precision": precision, "agent": agent, "opts": opts,
            "batches": batches, "batch_size": n, "grad_clip": tc.grad_clip, "step_s": []}


def recipe_vs_tiny12(quick: bool) -> dict[str, Any]:
    """samples/s of each recipe (``$CLIPORT_BENCH_RECIPE``, comma-separated, default
    ``cpu,cpu-strided``) at the precision its config chooses on this CPU, against
    tiny12-simclip's fp32 step: each at its own batch size, with the torch threads its config
    trains with, timed in turn so all see the same load, each timed step after an untimed
    one of the same model (see the module's docstring). ``vs_tiny12_simclip`` is the first
    recipe's ratio."""
    import torch

    from cliport_policy import cpu_isa
    from cliport_policy.config import load_policy_config

    names = os.environ.get("CLIPORT_BENCH_RECIPE", ",".join(RECIPES)).split(",")
    before = torch.get_num_threads()
    rounds, warm = (1, 0) if quick else (3, 1)
    rng = np.random.default_rng(1)
    runs = [_trainer(BASELINE_RECIPE, "fp32", rng, rounds + warm)]
    for name in names:
        tc = load_policy_config(name).train
        choice = cpu_isa.choose(tc.precision if tc.amp else "fp32")
        print(f"recipe {name}: precision {choice.precision} ({choice.reason})", flush=True)
        runs.append(_trainer(name, choice.precision, rng, rounds + warm)
                    | {"reason": choice.reason})
    for r in runs:
        r["threads"] = load_policy_config(r["config"]).train.threads or before
    print(f"against {BASELINE_RECIPE} fp32; torch threads "
          f"{ {r['config']: r['threads'] for r in runs} }", flush=True)
    for i in range(rounds + warm):
        for r in runs:
            torch.set_num_threads(r["threads"])
            if not quick:  # settles this model's memory after the other's step
                train_step(r["agent"], r["opts"], r["batches"][i], r["grad_clip"],
                           r["precision"])
            t = time.perf_counter()
            train_step(r["agent"], r["opts"], r["batches"][i], r["grad_clip"], r["precision"])
            dt = time.perf_counter() - t
            if i >= warm:
                r["step_s"].append(dt)
            print(f"{r['config']} {r['precision']} step{' (warm-up)' if i < warm else ''}: "
                  f"{dt:.2f} s for {r['batch_size']} samples", flush=True)
    torch.set_num_threads(before)
    rows = [{"config": r["config"], "precision": r["precision"],
             "batch_size": r["batch_size"], "threads": r["threads"],
             "samples_per_s": round(r["batch_size"] / statistics.median(r["step_s"]), 4),
             "step_s": [round(s, 3) for s in r["step_s"]]} for r in runs]
    base = rows[0]["samples_per_s"]
    for row, r in zip(rows[1:], runs[1:], strict=True):
        row["vs_tiny12_simclip"] = round(row["samples_per_s"] / base, 2)
        row["precision_reason"] = r["reason"]
        print(f"median: {row['config']} {row['samples_per_s']:.3f} samples/s, "
              f"{BASELINE_RECIPE} fp32 {base:.3f} samples/s: {row['vs_tiny12_simclip']:.2f}x",
              flush=True)
    return {"vs_tiny12_simclip": rows[1]["vs_tiny12_simclip"], "tiny12_simclip_fp32": rows[0],
            "recipe": rows[1], "recipes": rows[1:]}


def run(quick: bool) -> dict[str, Any]:
    omp = omp_passive()
    load = os.getloadavg()
    import torch
    from reference_policy import ReferenceAgent  # bench/ is on sys.path (run.py)

    from cliport_policy.agents import make_agent, trainable_parameters
    from cliport_policy.config import load_policy_config

    torch.set_num_threads(2)
    threads = torch.get_num_threads()
    name = os.environ.get("CLIPORT_BENCH_TRAIN_CONFIG", "tiny")
    model = bench_model(name)
    tc = load_policy_config(name).train
    lr = tc.lr
    # timed steps of ours / samples of the reference; the full run warms both up first
    n_ours, n_base, warm = (1, 1, 0) if quick else (2, 3, 1)
    rng = np.random.default_rng(0)
    demos = os.environ.get("CLIPORT_BENCH_DEMOS")
    n_batches = n_ours + warm
    batches = (demo_batches(demos, rng, n_batches) if demos else
               [random_batch(rng, BATCH, model.place_rotations) for _ in range(n_batches)])
    print(f"config {name}; batch {BATCH}; {threads} torch threads (OMP_WAIT_POLICY {omp}); "
          f"fp32; data "
          f"{'demos ' + demos if demos else 'random images and labels'}", flush=True)
    torch.manual_seed(0)
    agent = make_agent(model)
    agent.train()
    pick_params, place_params = trainable_parameters(agent)
    opts = {"attention": torch.optim.Adam(pick_params, lr=lr),
            "transport": torch.optim.Adam(place_params, lr=lr)}
    ref = ReferenceAgent(agent, "conv_resize", fast_conv=True)
    ref.make_optimizers(lr)

    def ours_step(b) -> tuple[float, float]:
        return train_step(agent, opts, b, tc.grad_clip)

    samples = [(b, i) for b in batches for i in range(BATCH)]

    def ref_step(j: int) -> tuple[float, float]:
        b, i = samples[j % len(samples)]
        return ref.train_step(b.img[i:i + 1], b.instructions[i], tuple(b.pick[i].tolist()),
                              tuple(b.place[i].tolist()), int(b.pick_rot[i]),
                              int(b.place_rot[i]))

    ours_s: list[float] = []
    base_s: list[float] = []
    losses = {}
    for step in range(1 - warm, max(n_ours, n_base) + 1):  # step 0: the untimed warm-up
        if step <= n_ours:
            t = time.perf_counter()
            losses["ours"] = ours_step(batches[(step - 1 + warm) % len(batches)])
            dt = time.perf_counter() - t
            if step:
                ours_s.append(dt)
            print(f"ours step {step}{' (warm-up)' if not step else ''}: {dt:.2f} s for "
                  f"{BATCH} samples ({BATCH / dt:.3f} samples/s)", flush=True)
        if step <= n_base:
            t = time.perf_counter()
            losses["reference"] = ref_step(step - 1 + warm)
            dt = time.perf_counter() - t
            if step:
                base_s.append(dt)
            print(f"reference sample {step}{' (warm-up)' if not step else ''}: {dt:.2f} s "
                  f"({1 / dt:.3f} samples/s)", flush=True)
    ours_rate = BATCH / statistics.median(ours_s)
    base_rate = 1.0 / statistics.median(base_s)
    ratio = ours_rate / base_rate
    print(f"median: ours {ours_rate:.3f} samples/s, reference {base_rate:.3f} samples/s, "
          f"ratio {ratio:.2f}", flush=True)
    recipe = recipe_vs_tiny12(quick)
    return {
        "name": "policy_train", "ours": round(ours_rate, 4), "baseline": round(base_rate, 4),
        "unit": "samples/s", "ratio": round(ratio, 2),
        "config": name, "batch_size": BATCH, "threads": threads, "omp_wait_policy": omp,
        "dtype": "float32",
        "data": "demos" if demos else "random",
        "ours_step_s": [round(s, 3) for s in ours_s],
        "baseline_sample_s": [round(s, 3) for s in base_s],
        "baseline_mode": "batch 1, conv_resize correlation, 3 text passes, whole-image "
                         "rotations, one-hot CE, separate pick/place backward + Adam step",
        "baseline_conv2d": "oneDNN off for the correlation forward, on for its backward "
                           "(fastest measured)",
        "paper_size": name == "policy",
        "note": "" if name == "policy" else
                "tiny config in both modes: a paper-size batch-8 step takes minutes here",
        "last_losses": {k: [round(x, 4) for x in v] for k, v in losses.items()},
        **recipe,
        "load_average": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
