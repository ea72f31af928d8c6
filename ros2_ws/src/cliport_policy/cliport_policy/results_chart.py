"""The results as a PNG bar chart: one group per (task, demo count), one bar per method with
its 95 % CI, the paper's number as a black bar across it (``cliport-results-table``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cliport_policy.results_cells import Cell, PaperResults, demo_label, layout

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def label_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _wrap(text: str, width: int) -> list[str]:
    lines, cur = [], ""
    for part in text.split("-"):
        piece = part if not cur else f"{cur}-{part}"
        if len(piece) > width and cur:
            lines.append(cur + "-")
            cur = part
        else:
            cur = piece
    return [*lines, cur]


GROUP_MIN_W = 150  # px: a task name in two or three lines of ~20 characters, not one a word
CHAR_W = 7  # px per character of the 11 px label font


def group_width(n_methods: int, bar: int = 16, gap: int = 28) -> int:
    """Width of one (task, demos) group of bars, wide enough for its label."""
    return max(max(1, n_methods) * bar + gap, GROUP_MIN_W)


def group_label(task: str, n_demos: int | None, group_w: int) -> list[str]:
    """The lines under a group: the task name wrapped at its hyphens, then the demos."""
    return _wrap(task, max(6, group_w // CHAR_W - 1)) + [f"n={demo_label(n_demos)}"]


def render_png(cells: Sequence[Cell], paper: PaperResults, path: str | os.PathLike,
               split: str = "test") -> Path:
    """A grouped bar chart: one group per (task, demo count), one bar per method with its
    95 % CI, the paper's number as a black bar across it."""
    from PIL import Image, ImageDraw

    methods, demos, blocks = layout(cells, paper)
    by_key = {(c.method, c.task, c.n_demos): c for c in cells}
    groups = [(t, n) for _, ts in blocks for t in ts for n in demos
              if any((m, t, n) in by_key for m in methods)]
    bar, gap, left, plot_h = 16, 28, 56, 300
    group_w = group_width(len(methods), bar, gap)
    legend_h = 18 * (len(methods) + 1) + 16
    top = 34 + legend_h
    width = max(480, left + len(groups) * group_w + 20)
    height = top + plot_h + 110
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    font, small = label_font(13), label_font(11)
    d.text((left, 8), f"CLIPort {split} success (%), mean ± 95 % CI", fill="black", font=font)
    for i, m in enumerate(methods):
        y = 34 + 18 * i
        d.rectangle([left, y + 2, left + 12, y + 14], fill=PALETTE[i % len(PALETTE)])
        d.text((left + 18, y), m, fill="black", font=small)
    y = 34 + 18 * len(methods)
    d.line([left, y + 8, left + 12, y + 8], fill="black", width=3)
    d.text((left + 18, y), "the paper", fill="black", font=small)

    def ypix(pct: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, pct)) / 100)

    for tick in range(0, 101, 20):
        yy = ypix(tick)
        d.line([left, yy, width - 10, yy], fill=(225, 225, 225))
        d.text((left - 30, yy - 7), f"{tick:3d}", fill="black", font=small)
    d.line([left, top, left, top + plot_h], fill="black")
    for g, (task, n) in enumerate(groups):
        x0 = left + gap // 2 + g * group_w
        xbars = x0 + (group_w - gap - len(methods) * bar) // 2  # bars centred over the label
        present = [(i, m) for i, m in enumerate(methods) if (m, task, n) in by_key]
        for slot, (i, m) in enumerate(present):  # colours by method, bars side by side
            c = by_key[(m, task, n)]
            xa, xb = xbars + slot * bar, xbars + (slot + 1) * bar - 2
            if c.mean is not None:
                d.rectangle([xa, ypix(100 * c.mean), xb, ypix(0)],
                            fill=PALETTE[i % len(PALETTE)])
                if c.ci95:
                    xm = (xa + xb) / 2
                    lo, hi = ypix(100 * (c.mean - c.ci95)), ypix(100 * (c.mean + c.ci95))
                    d.line([xm, lo, xm, hi], fill="black")
                    d.line([xm - 3, lo, xm + 3, lo], fill="black")
                    d.line([xm - 3, hi, xm + 3, hi], fill="black")
            if c.paper is not None:
                d.line([xa - 1, ypix(c.paper), xb + 1, ypix(c.paper)], fill="black", width=3)
        label = group_label(task, n, group_w - gap // 2)
        for k, line in enumerate(label):
            d.text((x0, top + plot_h + 6 + 13 * k), line, fill="black", font=small)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
