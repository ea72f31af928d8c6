"""policy_act: one pick-and-place decision, ours vs the reference-style CLIPort act().

Ours: ``Agent.act`` (eval mode, ``inference_mode``, cached sentence features, crop-then-rotate
place crops, FFT correlation). Baseline: :class:`reference_policy.ReferenceAgent`,
the reference's way at *equal weights* (batch 1, the sentence encoded three times, autograd
on, 36 rotations of the whole padded image, ``conv2d(padding=32)`` + resize correlation),
given its fastest CPU setting: the correlation conv2d runs with oneDNN disabled (with oneDNN
on, 36 x 3 x 64 x 64 kernels fall to a ~50 s reference loop, docs/design.md#cpu-correlation).

Full run: the paper-size architecture (config ``policy``, CLIP RN50 with *random* weights:
the OpenAI weights cannot be downloaded here; same shapes and compute). ``--quick``: the
tiny config. Both fp32, one process and allocator, 2 torch threads
(``OMP_WAIT_POLICY=PASSIVE``, see ``omp_passive``), timed alternately, on a 320 x 160 scene
(synthetic, or the first step of an episode of ``$CLIPORT_BENCH_DEMOS``).

Outputs are checked equal first, with the reference in its exact ``conv_valid`` mode (same
pick / place cells and bins, max abs diff of the probability maps); the timed baseline runs
the reference's own ``conv_resize`` mode, whose sub-pixel shift may move the place cell by
one. Issue goal: ratio >= 4 on this CPU. The reference-style act is also timed once with
torch's default settings (oneDNN on for the correlation conv2d), as the reference code runs
on this CPU: ``ratio_vs_default_conv2d``. At equal outputs both sides run the same three
networks, which dominate (paper size: 720 GFLOP counted in ours), so against the tuned baseline the
ratio is bounded by what the reference adds around them. The run measures that bound
(``roofline``): the networks' FLOPs in ours' act (``torch.utils.flop_counter``) over this CPU's
fp32 matmul rate measured in the same run give the fastest ours could be at equal arithmetic,
and the baseline's median over that floor is the largest ratio any fp32 implementation of
the same networks could show here.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from cliport_policy.cli import passive_wait as omp_passive

INSTRUCTION = "put the red block in the blue bowl"
TARGET = 4.0


def bench_model(quick: bool):
    """The benchmarked ModelConfig: paper size with random CLIP weights, or tiny."""
    from cliport_policy.config import load_policy_config

    if quick:
        model = load_policy_config("tiny").model
    else:
        model = load_policy_config("policy").model
        model = model.with_clip_pretrained("random")
    # the reference pads the pick input to a square: equal outputs need ours to do the same
    if "pick_pad_square" in {f.name for f in dataclasses.fields(model)}:
        model = dataclasses.replace(model, pick_pad_square=True)
    return model


def synthetic_scene(seed: int = 0, h: int = 320, w: int = 160
                    ) -> tuple[np.ndarray, np.ndarray, str]:
    """Coloured blocks and bowls on a grey table (colormap uint8, heightmap metres)."""
    rng = np.random.default_rng(seed)
    color = np.full((h, w, 3), (120, 115, 110), np.uint8)
    height = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for i in range(6):
        r, c = int(rng.integers(20, h - 20)), int(rng.integers(20, w - 20))
        rgb = rng.integers(0, 256, 3)
        if i % 2:  # a bowl: a ring
            d = np.hypot(yy - r, xx - c)
            ring = (d > 8) & (d < 13)
            color[ring] = rgb
            height[ring] = 0.03
        else:  # a block
            color[r - 6:r + 6, c - 6:c + 6] = rgb
            height[r - 6:r + 6, c - 6:c + 6] = 0.04
    noise = rng.normal(0, 3, color.shape)
    return np.clip(color + noise, 0, 255).astype(np.uint8), height, INSTRUCTION


def demo_scene(path: str) -> tuple[np.ndarray, np.ndarray, str]:
    from cliport_sim.dataset import Dataset

    sample = Dataset(Path(path)).sample(0, 0)
    return (np.asarray(sample["colormap"]), np.asarray(sample["heightmap"], np.float32),
            str(sample["instruction"]))


def allocator() -> str:
    preload = os.environ.get("LD_PRELOAD", "")
    if "jemalloc" in preload:
        return "jemalloc (LD_PRELOAD)"
    if "tcmalloc" in preload:
        return "tcmalloc (LD_PRELOAD)"
    return "glibc malloc"


def matmul_gflops(n: int = 3072, repeats: int = 5) -> float:
    """This CPU's fp32 matrix-multiply rate now (GFLOP/s, median of ``repeats``): the
    practical peak the networks' convolutions (oneDNN, GEMM-like) can approach."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def counted_act(agent, color, height, instruction):
    """One ``agent.act`` and its GFLOP (convolutions, matmuls; the FFT is not counted).

    Counting slows the call down: it is the untimed warm-up."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        decision = agent.act(color, height, instruction)
    return decision, counter.get_total_flops() / 1e9


def roofline(gflop: float, rate: float, ours_s: float, base_s: float) -> dict[str, float]:
    """The fastest ours can be at equal arithmetic (``gflop`` at the matmul ``rate``) and the
    largest ratio against a baseline of ``base_s`` that this allows."""
    floor = gflop / rate
    return {"network_gflop": round(gflop, 1), "matmul_gflops": round(rate, 1),
            "ours_gflops": round(gflop / ours_s, 1), "floor_s": round(floor, 3),
            "max_ratio_at_matmul_rate": round(base_s / floor, 2),
            "needed_gflops_for_target": round(gflop * TARGET / base_s, 1)}


def run(quick: bool) -> dict[str, Any]:
    omp = omp_passive()
    import torch
    import torch.nn.functional as F
    from reference_policy import ReferenceAgent  # bench/ is on sys.path (run.py)

    from cliport_policy.agents import image_tensor, make_agent

    torch.set_num_threads(2)
    threads = torch.get_num_threads()
    model = bench_model(quick)
    demos = os.environ.get("CLIPORT_BENCH_DEMOS")
    color, height, instruction = demo_scene(demos) if demos else synthetic_scene()
    label = "tiny" if quick else "policy (paper size, CLIP RN50 random weights)"
    print(f"config {label}; {threads} torch threads (OMP_WAIT_POLICY {omp}); fp32; "
          f"allocator {allocator()}; "
          f"scene {'demo ' + demos if demos else 'synthetic'} {color.shape[:2]}", flush=True)
    t = time.perf_counter()
    torch.manual_seed(0)
    agent = make_agent(model)
    print(f"agent built in {time.perf_counter() - t:.1f} s", flush=True)

    # ---- equality at equal weights: ours vs the reference in its exact conv_valid mode
    t = time.perf_counter()
    ours_d, gflop = counted_act(agent, color, height, instruction)  # warm-up, fills the cache
    t_ours_first = time.perf_counter() - t
    with torch.inference_mode():
        img = image_tensor(color, height)[None]
        g = agent.text_features([instruction])
        pick_t = torch.tensor([ours_d.pick[:2]])
        ours_pick = F.softmax(agent.attention(img, g).reshape(-1), 0).reshape(-1, *img.shape[-2:])
        ours_place = F.softmax(agent.transport(img, pick_t, g).reshape(-1), 0).reshape(
            -1, *img.shape[-2:])
    exact = ReferenceAgent(agent, "conv_valid")
    t = time.perf_counter()
    ref_d, ref_pick, ref_place = exact.act_maps(color, height, instruction)
    t_exact = time.perf_counter() - t
    pick_diff = float(np.abs(ref_pick - ours_pick.numpy()).max())
    place_diff = float(np.abs(ref_place - ours_place.numpy()).max())
    match = ref_d.pick == ours_d.pick and ref_d.place == ours_d.place
    print(f"ours pick {ours_d.pick} place {ours_d.place} (first call, FLOPs counted, "
          f"{t_ours_first:.2f} s); "
          f"reference conv_valid pick {ref_d.pick} place {ref_d.place} ({t_exact:.2f} s)")
    print(f"outputs {'MATCH' if match else 'DIFFER'}: max |dp| pick {pick_diff:.3g} "
          f"(peak {float(ours_pick.max()):.3g}), place {place_diff:.3g} "
          f"(peak {float(ours_place.max()):.3g})", flush=True)

    # ---- timing: ours vs the reference's own conv_resize mode, oneDNN off for its conv2d
    # alternated (ours, reference, ours, ...) so both see the same load on shared cores
    n_ours, n_base = (5, 3) if quick else (3, 2)
    base_agent = ReferenceAgent(agent, "conv_resize", fast_conv=True)
    ours_s: list[float] = []
    base_s: list[float] = []
    base_d = None
    for i in range(max(n_ours, n_base)):
        if i < n_ours:
            t = time.perf_counter()
            agent.act(color, height, instruction)
            ours_s.append(time.perf_counter() - t)
            print(f"ours act: {ours_s[-1]:.2f} s", flush=True)
        if i < n_base:
            t = time.perf_counter()
            base_d = base_agent.act(color, height, instruction)
            base_s.append(time.perf_counter() - t)
            print(f"reference act (conv_resize): {base_s[-1]:.2f} s", flush=True)
    ours_med, base_med = statistics.median(ours_s), statistics.median(base_s)
    ratio = base_med / ours_med
    # The reference-style act as it runs on this CPU with torch's defaults (oneDNN on for the
    # correlation conv2d): one run, it is slow.
    t = time.perf_counter()
    ReferenceAgent(agent, "conv_resize", fast_conv=False).act(color, height, instruction)
    base_default = time.perf_counter() - t
    print(f"reference act (conv_resize, torch defaults): {base_default:.2f} s, ratio "
          f"{base_default / ours_med:.2f}", flush=True)
    roof = roofline(gflop, matmul_gflops(), ours_med, base_med)
    print(f"roofline: ours' act runs {roof['network_gflop']:.0f} GFLOP of networks at "
          f"{roof['ours_gflops']:.0f} GFLOP/s; this CPU multiplies fp32 matrices at "
          f"{roof['matmul_gflops']:.0f} GFLOP/s now, so at equal arithmetic ours takes >= "
          f"{roof['floor_s']:.2f} s and the ratio is <= {roof['max_ratio_at_matmul_rate']:.2f}; "
          f"{TARGET:g}x would need {roof['needed_gflops_for_target']:.0f} GFLOP/s", flush=True)
    shift = (base_d.place[0] - ours_d.place[0], base_d.place[1] - ours_d.place[1],
             base_d.place[2] - ours_d.place[2])
    print(f"median: ours {ours_med:.3f} s, reference {base_med:.3f} s, ratio {ratio:.2f} "
          f"(target >= {TARGET:g}); conv_resize place {base_d.place} vs exact {ours_d.place}")
    return {
        "name": "policy_act", "ours": round(ours_med, 4), "baseline": round(base_med, 4),
        "unit": "s", "ratio": round(ratio, 2),
        "target_ratio": TARGET, "meets_target": bool(ratio >= TARGET),
        "config": "tiny" if quick else "policy", "clip_weights": model.clip.pretrained,
        "threads": threads, "omp_wait_policy": omp, "dtype": "float32", "allocator": allocator(),
        "image": list(color.shape[:2]), "scene": "demo" if demos else "synthetic",
        "ours_runs_s": [round(s, 4) for s in ours_s],
        "baseline_runs_s": [round(s, 4) for s in base_s],
        "baseline_mode": "conv_resize (CLIPort's conv2d padding=32 + resize), batch 1, "
                         "3 text passes, whole-image rotations, autograd on",
        "baseline_conv2d": "oneDNN disabled for the correlation conv2d "
                           "(its fastest CPU setting; ~50 s/call with oneDNN)",
        "baseline_default_conv2d_s": round(base_default, 4),
        "ratio_vs_default_conv2d": round(base_default / ours_med, 2),
        "outputs_match": bool(match), "equality_mode": "conv_valid",
        "pick": list(ours_d.pick), "place": list(ours_d.place),
        "reference_pick": list(ref_d.pick), "reference_place": list(ref_d.place),
        "max_abs_diff_pick_prob": pick_diff, "max_abs_diff_place_prob": place_diff,
        "peak_pick_prob": float(ours_pick.max()), "peak_place_prob": float(ours_place.max()),
        "conv_resize_place": list(base_d.place),
        "conv_resize_place_shift": list(shift),
        "reference_conv_valid_act_s": round(t_exact, 4),
        "roofline": roof,
    }
