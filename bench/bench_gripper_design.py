"""gripper_design: the grasp yaw by a crop classifier vs by k-rotation pick attention.

Ours: ``pick_rotation_head: classifier`` (the pick FCN once, a small CNN on the 64 x 64 crop
around the picked cell, models/grasp_yaw.py). Baseline: ``pick_rotation_head: attention``
(the pick FCN on k rotated copies of the scene). Both with k = 12 bins over 180 deg (15 deg
each) on the ``tiny`` and ``tiny12-simclip`` configs, plus the one-rotation (suction) model
for scale. Timed: ``act`` (one 320 x 160 heightmap, eval mode) and one training step (batch
2: losses, backward, both Adam steps), 2 torch threads. The modes are timed in turn, round
after round, so load on the shared machine falls on all of them alike; the medians (the
first round includes oneDNN's set-up) and the ratios are reported. ``--quick``: 1 round;
default 3. Env ``CLIPORT_BENCH_K``: other bin counts (e.g. ``8,12``: the attention's pick
cost grows linearly in k); ``CLIPORT_BENCH_CONFIGS``: other configs.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from typing import Any

from bench_policy_act import omp_passive  # bench/ is on sys.path (run.py)

CONFIGS = ("tiny", "tiny12-simclip")
BATCH = 2
INSTRUCTION = "put the red blocks in a green bowl"


def _modes(k_values: list[int]) -> list[tuple[str, int, str]]:
    out = [("suction k=1", 1, "attention")]
    for k in k_values:
        out += [(f"attention k={k}", k, "attention"), (f"classifier k={k}", k, "classifier")]
    return out


def run(quick: bool = False) -> dict[str, Any]:
    omp = omp_passive()
    import numpy as np
    import torch

    from cliport_policy.agents import image_tensor, make_agent, trainable_parameters
    from cliport_policy.config import load_policy_config

    torch.set_num_threads(2)
    rounds = 1 if quick else 3
    k_values = [int(k) for k in os.environ.get("CLIPORT_BENCH_K", "12").split(",")]
    rng = np.random.default_rng(0)
    cmap = rng.integers(0, 255, (BATCH, 320, 160, 3), dtype=np.uint8)
    hmap = rng.uniform(0.0, 0.05, (BATCH, 320, 160)).astype(np.float32)
    img = image_tensor(cmap, hmap)
    pick = torch.tensor(rng.integers(40, 120, (BATCH, 2)))
    place = torch.tensor(rng.integers(40, 120, (BATCH, 2)))
    text = [INSTRUCTION] * BATCH
    results: dict[str, dict[str, dict[str, float]]] = {}
    configs = os.environ.get("CLIPORT_BENCH_CONFIGS", ",".join(CONFIGS)).split(",")
    for name in configs:
        base = load_policy_config(name).model
        agents = {}
        for label, k, head in _modes(k_values):
            torch.manual_seed(0)
            agent = make_agent(dataclasses.replace(base, pick_rotations=k,
                                                   pick_rotation_head=head))
            pick_p, place_p = trainable_parameters(agent)
            opts = [torch.optim.Adam(pick_p, lr=1e-4), torch.optim.Adam(place_p, lr=1e-4)]
            agents[label] = (agent, opts, k)
        times: dict[str, dict[str, list[float]]] = {m: {"act": [], "train": []} for m in agents}

        def act(agent) -> float:
            t0 = time.perf_counter()
            agent.act(cmap[0], hmap[0], INSTRUCTION)
            return time.perf_counter() - t0

        def train_step(agent, opts, k) -> float:
            agent.train()
            rot = torch.tensor(rng.integers(0, k, BATCH))
            place_rot = torch.tensor(rng.integers(0, agent.config.place_rotations, BATCH))
            t0 = time.perf_counter()
            lp, lq = agent.losses(img, text, pick, place, rot, place_rot)
            for o in opts:
                o.zero_grad()
            (lp + lq).backward()
            for o in opts:
                o.step()
            return time.perf_counter() - t0

        for r in range(rounds):
            for label, (agent, opts, k) in agents.items():
                times[label]["act"].append(act(agent))
                times[label]["train"].append(train_step(agent, opts, k))
                print(f"{name} round {r + 1}/{rounds} {label}: act "
                      f"{times[label]['act'][-1]:.2f} s, train step "
                      f"{times[label]['train'][-1]:.2f} s", flush=True)
        results[name] = {m: {key: statistics.median(v) for key, v in t.items()}
                         for m, t in times.items()}
        for m, t in results[name].items():
            print(f"  {m:18s} act {t['act'] * 1e3:8.1f} ms   train step (B={BATCH}) "
                  f"{t['train'] * 1e3:8.1f} ms", flush=True)
    k = k_values[-1]
    ours = results[configs[-1]][f"classifier k={k}"]["train"]
    baseline = results[configs[-1]][f"attention k={k}"]["train"]
    return {"name": "gripper_design", "ours": ours, "baseline": baseline, "unit": "s/step",
            "ratio": baseline / ours, "omp_wait_policy": omp, "rounds": rounds,
            "batch": BATCH, "results": results}
