"""A run's learning curves: its training losses by step and its checkpoints' val score.

    python -m cliport_policy.learning_curves --run runs/gripper/pbib-100/run \
        --out docs/results/gripper/pbib-100-curves

Reads ``train_log.jsonl`` (``cliport-train``) and ``eval/<task>-results-val.json``
(``cliport-eval``'s checkpoint selection); writes ``<out>.json`` and ``<out>.png``, so a
result's table sits next to how it was reached.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

LOSSES = ("pick_loss", "place_loss")
SMOOTH = 9  # log points in the running median of a plotted loss: single batches are noisy


def _step_of(checkpoint: str) -> int | None:
    m = re.search(r"step-0*(\d+)", checkpoint)
    return int(m.group(1)) if m else None


def read_curves(run: str | os.PathLike) -> dict[str, Any]:
    """``{"train": {step, pick_loss, place_loss, wall_s}, "val": {task: [[step, mean, ci95],
    ...]}, "best": checkpoint, "best_by_task": {task: checkpoint}}`` from a run directory; a
    missing file gives an empty part.
    ``wall_s`` is the training's wall time over every call, logged steps that a resume redid
    included: the log holds it even when a call was killed before reporting its budget."""
    run = Path(run)
    rows: dict[int, dict[str, float]] = {}  # a resumed run logs some steps twice: last wins
    wall, last = 0.0, 0.0  # each call's "seconds" restart from 0: add up each call's last
    log = run / "train_log.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill mid-write
                continue
            if isinstance(r.get("step"), int) and all(k in r for k in LOSSES):
                rows[r["step"]] = {k: float(r[k]) for k in LOSSES}
            if isinstance(r.get("seconds"), (int, float)):
                if r["seconds"] < last:
                    wall += last
                last = float(r["seconds"])
    steps = sorted(rows)
    train = {"step": steps, **{k: [rows[s][k] for s in steps] for k in LOSSES},
             "wall_s": round(wall + last, 1)}
    val: dict[str, list[list[float]]] = {}
    for path in sorted((run / "eval").glob("*-results-val.json")):
        task = path.name[: -len("-results-val.json")]
        points = []
        for name, summary in json.loads(path.read_text()).items():
            step = _step_of(name)
            if step is not None and isinstance(summary, dict) and "mean" in summary:
                points.append([step, float(summary["mean"]), float(summary.get("ci95") or 0.0)])
        val[task] = sorted(points)
    best, best_by_task = None, {}
    results = run / "eval" / "results.json"
    if results.is_file():  # a task evaluated later (an unseen split) has its own choice
        r = json.loads(results.read_text())
        best = r.get("selection", {}).get("best")
        best_by_task = {t: Path(e["checkpoint"]).name for t, e in r.get("tasks", {}).items()
                        if isinstance(e, dict) and e.get("checkpoint")}
    return {"train": train, "val": val, "best": best, "best_by_task": best_by_task}


def running_median(values: list[float], width: int = SMOOTH) -> list[float]:
    """Each value replaced by the median of the ``width`` values around it (fewer at ends)."""
    a = np.asarray(values, dtype=float)
    h = width // 2
    return [float(np.median(a[max(0, i - h): i + h + 1])) for i in range(len(a))]


def round_ticks(x_max: float, most: int = 5) -> list[int]:
    """Whole numbers from 0 to ``x_max``, at most ``most`` intervals, at a round spacing (1, 2,
    2.5 or 5 times a power of ten): steps a reader matches to saved checkpoints, losses in
    whole nats."""
    spacing = 1.0
    if x_max > most:
        scale = 10.0 ** np.floor(np.log10(x_max / most))
        spacing = next(m * scale for m in (1.0, 2.0, 2.5, 5.0, 10.0)
                       if (m * scale) % 1 == 0 and x_max / (m * scale) <= most + 1e-9)
    return [round(k * spacing) for k in range(int(x_max / spacing + 1e-9) + 1)]


def _panel(d, box: tuple[int, int, int, int], title: str, x_max: float, y_max: float,
           y_ticks: list[float], font) -> Any:
    """Axes in ``box`` (left, top, right, bottom); returns (x, y) -> pixel."""
    left, top, right, bottom = box
    d.text((left, top - 22), title, fill="black", font=font)
    for t in y_ticks:
        yy = bottom - (bottom - top) * t / y_max
        d.line([left, yy, right, yy], fill=(225, 225, 225))
        d.text((left - 36, yy - 7), f"{t:g}", fill="black", font=font)
    for xs in round_ticks(x_max):
        xx = left + (right - left) * xs / x_max
        d.text((xx - 12, bottom + 4), str(xs), fill="black", font=font)
    d.line([left, top, left, bottom, right, bottom], fill="black")
    return lambda x, y: (left + (right - left) * x / x_max,
                         bottom - (bottom - top) * min(y, y_max) / y_max)


def render_png(curves: dict[str, Any], path: str | os.PathLike, title: str = "") -> Path:
    """Two panels: smoothed pick/place loss by step; val score (%) by checkpoint step."""
    from PIL import Image, ImageDraw

    from cliport_policy.results_chart import PALETTE, label_font

    train, val = curves["train"], curves["val"]
    x_max = float(max([*train["step"], *(p[0] for ps in val.values() for p in ps), 1]))
    img = Image.new("RGB", (980, 400), "white")
    d = ImageDraw.Draw(img)
    font = label_font(12)
    if title:
        d.text((20, 6), title, fill="black", font=label_font(14))
    smooth = {k: running_median(train[k]) for k in LOSSES}
    y_max = max([1.0, *(v for k in LOSSES for v in smooth[k])])
    y_max = float(np.ceil(y_max / 2) * 2)
    to_px = _panel(d, (60, 60, 460, 350), "training loss (running median of 9 logs)", x_max,
                   y_max, round_ticks(y_max), font)
    for i, k in enumerate(LOSSES):
        pts = [to_px(s, v) for s, v in zip(train["step"], smooth[k], strict=True)]
        if len(pts) > 1:
            d.line(pts, fill=PALETTE[i], width=2)
        d.text((360, 64 + 16 * i), k.replace("_", " "), fill=PALETTE[i], font=font)
    to_px = _panel(d, (560, 60, 960, 350), "val score (% mean reward) per saved checkpoint",
                   x_max, 100.0, [0, 25, 50, 75, 100], font)
    for i, (task, pts) in enumerate(sorted(val.items())):
        best = _step_of(curves.get("best_by_task", {}).get(task) or curves.get("best") or "")
        colour = PALETTE[(i + 2) % len(PALETTE)]
        px = [to_px(s, 100 * m) for s, m, _ in pts]
        if len(px) > 1:
            d.line(px, fill=colour, width=2)
        for (s, m, ci), (x, y) in zip(pts, px, strict=True):
            lo, hi = to_px(s, 100 * max(0.0, m - ci))[1], to_px(s, 100 * min(1.0, m + ci))[1]
            d.line([x, lo, x, hi], fill=colour)
            r = 5 if s == best else 3
            d.ellipse([x - r, y - r, x + r, y + r], fill="black" if s == best else colour)
        d.text((570, 64 + 16 * i), task, fill=colour, font=font)
    d.text((560, 372), "step (black: the checkpoint chosen on val)", fill="black", font=font)
    d.text((60, 372), "step", fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def write_curves(run: str | os.PathLike, out: str | os.PathLike, title: str = "") -> Path:
    """``<out>.json`` and ``<out>.png`` for ``run``; returns the PNG's path."""
    curves = read_curves(run)
    if not curves["train"]["step"] and not curves["val"]:
        raise FileNotFoundError(f"{run}: no train_log.jsonl and no eval/*-results-val.json")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(curves, indent=1) + "\n")
    return render_png(curves, out.with_suffix(".png"), title)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport_policy.learning_curves",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, type=Path, help="a cliport-train run directory")
    ap.add_argument("--out", required=True, type=Path, help="writes <out>.json and <out>.png")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    try:
        print(write_curves(args.run, args.out, args.title))
    except (FileNotFoundError, json.JSONDecodeError) as e:
        print(f"learning_curves: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
