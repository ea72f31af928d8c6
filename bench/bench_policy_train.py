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


def demo_batches(path: str, rng: np.random.Generator, n_batches: int):
    from cliport_policy.data import Sampler
    from cliport_sim.dataset import Dataset

    sampler = Sampler([Dataset(Path(path))], rng)
    return [sampler.batch(BATCH) for _ in range(n_batches)]


def run(quick: bool) -> dict[str, Any]:
    omp = omp_passive()
    from cliport_policy.cpu_isa import limit_for_training

    limit_for_training()  # both loops on the kernels training uses (cliport_policy.cpu_isa)
    import torch
    from reference_policy import ReferenceAgent  # bench/ is on sys.path (run.py)

    from cliport_policy.agents import make_agent, trainable_parameters
    from cliport_policy.config import load_policy_config
    from cliport_policy.train import clip_gradients

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
        lp, lq = agent.losses(b.img, b.instructions, b.pick, b.place, b.pick_rot, b.place_rot)
        for opt in opts.values():
            opt.zero_grad(set_to_none=True)
        (lp + lq).backward()
        clip_gradients(opts, tc.grad_clip)  # as train() steps
        for opt in opts.values():
            opt.step()
        return float(lp.detach()), float(lq.detach())

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
          f"ratio {ratio:.2f}")
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
    }
