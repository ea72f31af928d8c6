"""fusion: 3 reference views of 640x480 RGB-D -> one 320x160 colormap + heightmap.

Ours (:class:`cliport_perception.fusion.Fuser`, per-camera geometry cached as it is at
frame rate) against the reference algorithm (numpy float64, back-project, sort by z,
assign, one view at a time) on the same synthetic frames, in the same process. Also checks
that both give identical max-z cells and colours. Goal: ratio >= 20.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from _timing import median_time


def run(quick: bool) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from cliport_perception.fusion import Fuser, reference_fuse
    from cliport_perception.synthetic import Box, reference_cameras, render
    from cliport_perception.workspace import Workspace

    ws = Workspace()
    rng = np.random.default_rng(0)
    boxes = [Box((float(rng.uniform(0.3, 0.7)), float(rng.uniform(-0.4, 0.4))),
                 tuple(rng.uniform([0.03, 0.03, 0.02], [0.08, 0.08, 0.12]).tolist()),
                 tuple(int(c) for c in rng.integers(0, 256, 3)))
             for _ in range(8)]
    frames = [render(cam, boxes, depth_uint16=True) for cam in reference_cameras()]
    fuser = Fuser(ws)
    maps = fuser.fuse(frames)
    ref_color, ref_height = reference_fuse(frames, ws)
    same_h = np.abs(maps.heightmap - ref_height) <= 1e-6
    same_c = (maps.colormap == ref_color).all(axis=-1)
    print(f"identical max-z cells: {same_h.mean() * 100:.3f} % "
          f"({(~same_h).sum()} differ); identical colours: {same_c.mean() * 100:.3f} %")
    ours = median_time(lambda: fuser.fuse(frames), repeats=20 if quick else 100, warmup=2)
    base = median_time(lambda: reference_fuse(frames, ws), repeats=3 if quick else 15)
    print(f"ours {ours * 1e3:.2f} ms  reference {base * 1e3:.2f} ms  (3 views, median)")
    return {"name": "fusion", "ours": round(ours * 1e3, 3), "baseline": round(base * 1e3, 3),
            "unit": "ms", "ratio": round(base / ours, 2)}
