#!/usr/bin/env python3
"""Where a policy's training FLOPs go: one forward of ``Agent.losses`` on a batch, counted
per network part by ``torch.utils.flop_counter`` (convolutions and matmuls; the FFT
correlation is not counted), with the backward's total.

    .venv/bin/python scripts/profile_policy_flops.py                      # tiny12-simclip
    .venv/bin/python scripts/profile_policy_flops.py --config tiny --batch 8

Parts: the pick attention, the transport's key (the padded image) and query (the k rotated
crops), each split into the spatial stream (ResNet), the semantic stream's LingUNet decoder
(its up-sampling blocks and the rest) and the frozen CLIP image encoder with the stream
fusion. The last line is a JSON object.

Why: a CPU-sized configuration should cut FLOPs where they are (docs/notes/cpu-isa.md).
"""

from __future__ import annotations

import argparse
import json
import sys


def profile(config: str, batch: int, seed: int = 0) -> dict:
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cliport_policy.agents import image_tensor, make_agent
    from cliport_policy.config import load_policy_config

    model = load_policy_config(config).model
    torch.manual_seed(seed)
    agent = make_agent(model).train()
    rng = np.random.default_rng(seed)
    h, w = 320, 160
    img = image_tensor(rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
                       rng.uniform(0, 0.1, (batch, h, w)).astype(np.float32))
    cells = torch.as_tensor(np.stack([rng.integers(0, h, batch), rng.integers(0, w, batch)], 1))
    rot = torch.as_tensor(rng.integers(0, model.place_rotations, batch))
    text = ["put the red block in the blue bowl"] * batch
    agent.text_features(text)  # cached, as in training
    with FlopCounterMode(display=False) as fwd:
        lp, lq = agent.losses(img, text, cells, cells.flip(0), torch.zeros_like(rot), rot)
    with FlopCounterMode(display=False) as bwd:
        (lp + lq).backward()
    counts = {name: sum(ops.values()) / 1e9 for name, ops in fwd.get_flop_counts().items()}
    total = counts.get("Global", 0.0)
    parts: dict[str, float] = {}
    for net, label in (("Attention.fcn", "pick"), ("Transport.key", "key"),
                       ("Transport.query", "query")):
        spatial, semantic = counts.get(f"{net}.spatial", 0.0), counts.get(f"{net}.semantic", 0.0)
        up = sum(v for k, v in counts.items() if k.startswith(f"{net}.semantic.up.")
                 and k.count(".") == net.count(".") + 3)
        parts[f"{label}.spatial"] = spatial
        parts[f"{label}.semantic.up_blocks"] = up
        parts[f"{label}.semantic.rest"] = semantic - up
        # the frozen CLIP's image encoder runs inside each stream's forward; + stream fusion
        parts[f"{label}.clip_image_and_fusion"] = counts.get(net, 0.0) - spatial - semantic
    parts["outside the three nets"] = total - sum(parts.values())
    return {"config": config, "batch": batch, "forward_gflop": round(total, 2),
            "forward_gflop_per_sample": round(total / batch, 2),
            "backward_gflop": round(sum(bwd.get_flop_counts().get("Global", {}).values())
                                    / 1e9, 2),
            "parts_gflop": {k: round(v, 2) for k, v in parts.items()},
            "parts_share": {k: round(v / total, 3) for k, v in parts.items() if total}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="tiny12-simclip")
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args(argv)
    out = profile(args.config, args.batch)
    for k, v in out["parts_gflop"].items():
        print(f"{k:32s} {v:8.2f} GFLOP  {100 * out['parts_share'][k]:5.1f} %")
    print(f"forward {out['forward_gflop']:.2f} GFLOP ({out['forward_gflop_per_sample']:.2f} "
          f"per sample), backward {out['backward_gflop']:.2f} GFLOP")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
