"""Results table in the layout of the paper's Table 1, next to the paper's numbers.

    cliport-results-table runs/ --out results/          # every runs/*/eval/results.json
    cliport-results-table runs/a runs/b/eval/results.json --out results/ --split val

Input: ``results.json`` files written by ``cliport-eval`` (one per run: a method, a demo
count, per-task test summaries over evaluation seeds). Output: ``table.md``, ``table.json``
and ``table.png``. Rows are methods, column groups tasks in the paper's order (its blocks
A, B, C; tasks the paper lacks come last), columns the demo counts that were run. Each cell
is our mean ± 95 % CI half-width over seeds, with the paper's number in parentheses where it
has one (``config/paper_results.yaml``: Table 1 for test, Table 4's quoted values for val).
A cell measured with fewer than 3 seeds or fewer than 100 episodes a seed is marked, since
it is not the paper's protocol (docs/design.md#eval-seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cliport_common.cli import one_line_errors
from cliport_common.config import ConfigError, config_path, from_dict, load_yaml

SPLITS = ("test", "val")
MIN_SEEDS = 3  # the protocol's minimum (docs/design.md#eval-seeds)
MIN_EPISODES = 100  # per seed, as the paper's
AGENT_LABELS = {"cliport": "CLIPort", "transporter": "Transporter-only", "clip_only": "CLIP-only"}
OFF_PROTOCOL = "†"
NOT_RUN = "–"
OTHER_BLOCK = "other"


@dataclass(frozen=True)
class PaperTask:
    task: str
    label: str
    block: str


@dataclass(frozen=True)
class PaperResults:
    """The paper's numbers: ``test[method][task]`` = scores at ``demos`` (or None: n/a)."""

    demos: tuple[int, ...]
    tasks: tuple[PaperTask, ...]
    methods: tuple[str, ...]
    test: dict[str, Any] = field(default_factory=dict)
    val: dict[str, Any] = field(default_factory=dict)

    def score(self, split: str, method: str | None, task: str, n_demos: int | None
              ) -> float | None:
        row = getattr(self, split).get(method or "", {}).get(task)
        if row is None or n_demos not in self.demos:
            return None
        value = row[self.demos.index(n_demos)]
        return None if value is None else float(value)

    def task(self, name: str) -> PaperTask | None:
        return next((t for t in self.tasks if t.task == name), None)


def load_paper(path: str | os.PathLike | None = None) -> PaperResults:
    """The paper's numbers (default: the package's ``config/paper_results.yaml``)."""
    path = Path(path) if path is not None else config_path("cliport_policy",
                                                           "paper_results.yaml")
    paper = from_dict(PaperResults, load_yaml(path), where=str(path))
    for split in SPLITS:
        for method, rows in getattr(paper, split).items():
            for task, row in rows.items():
                if row is not None and len(row) != len(paper.demos):
                    raise ConfigError(f"{path}: {split}.{method}.{task} has {len(row)} "
                                      f"scores, expected {len(paper.demos)}")
    return paper


def method_label(agent: str, kind: str) -> str:
    """The paper's row name for an agent trained as ``kind`` (single | multi | multi-attr):
    ``CLIPort (multi)``; the baselines have single-task rows only in the paper."""
    base = AGENT_LABELS.get(agent, agent)
    if agent == "cliport":
        return f"{base} ({kind})"
    return base if kind == "single" else f"{base} ({kind})"


@dataclass(frozen=True)
class Cell:
    """One measured (method, task, demo count), or only the paper's number (``mean`` None)."""

    method: str
    task: str
    n_demos: int | None
    mean: float | None  # fraction 0..1
    ci95: float | None
    n_seeds: int
    episodes_per_seed: int
    per_seed: dict[str, float]
    paper: float | None  # %
    paper_method: str = ""  # the paper's row it is compared with
    source: str = ""
    checkpoint: str = ""

    @property
    def off_protocol(self) -> bool:
        return self.n_seeds < MIN_SEEDS or self.episodes_per_seed < MIN_EPISODES


def _record_problem(record: dict[str, Any]) -> str | None:
    for key in ("method", "tasks"):
        if key not in record:
            return f"no {key!r} entry"
    if not isinstance(record["tasks"], dict):
        return "'tasks' is not a mapping"
    return None


def collect(records: Sequence[dict[str, Any]], paper: PaperResults, split: str = "test"
            ) -> list[Cell]:
    """Measured cells of ``records`` (``results.json`` contents) for ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    cells: dict[tuple[str, str, int | None], Cell] = {}
    for record in records:
        src = str(record.get("source", record.get("run", "")))
        problem = _record_problem(record)
        if problem:
            raise ValueError(f"{src or 'a result'}: not a cliport-eval results file ({problem})")
        method, n = str(record["method"]), record.get("n_demos")
        paper_method = record.get("paper_method") or method
        for task, entry in record["tasks"].items():
            summary = (entry or {}).get(split)
            if not summary:
                continue
            key = (method, task, n)
            if key in cells:
                raise ValueError(f"two results for {method}, {task}, {n} demos: "
                                 f"{cells[key].source} and {src}")
            n_seeds = int(summary["n_seeds"])
            cells[key] = Cell(
                method, task, n, _num(summary.get("mean")), _num(summary.get("ci95")), n_seeds,
                int(summary["n_episodes"]) // max(n_seeds, 1),
                {str(k): float(v) for k, v in summary.get("per_seed", {}).items()},
                paper.score(split, paper_method, task, n), str(paper_method), src,
                Path(str(entry.get("checkpoint") or record.get("checkpoint", ""))).name)
    return list(cells.values())


def _num(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


# --------------------------------------------------------------------------- layout
def _method_key(paper: PaperResults, cells: Sequence[Cell]):
    """Rows in the paper's order of the rows they are compared with, then by name."""
    compared = {c.method: c.paper_method for c in cells}

    def key(method: str) -> tuple[int, str]:
        row = compared.get(method, method)
        order = paper.methods.index(row) if row in paper.methods else len(paper.methods)
        return order, method
    return key


def _demo_key(n: int | None) -> tuple[int, int]:
    return (1, 0) if n is None else (0, n)


def layout(cells: Sequence[Cell], paper: PaperResults
           ) -> tuple[list[str], list[int | None], list[tuple[str, list[str]]]]:
    """(methods, demo counts, blocks [(name, tasks)]) of the measured cells, in the paper's
    order: its methods, then others by name; its blocks and columns, then other tasks."""
    methods = sorted({c.method for c in cells}, key=_method_key(paper, cells))
    demos = sorted({c.n_demos for c in cells}, key=_demo_key)
    run_tasks = {c.task for c in cells}
    blocks: list[tuple[str, list[str]]] = []
    for t in paper.tasks:
        if t.task in run_tasks:
            if not blocks or blocks[-1][0] != t.block:
                blocks.append((t.block, []))
            blocks[-1][1].append(t.task)
    others = sorted(run_tasks - {t.task for t in paper.tasks})
    if others:
        blocks.append((OTHER_BLOCK, others))
    return methods, demos, blocks


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def cell_text(cell: Cell | None, paper_score: float | None) -> str:
    """``92.0 ± 5.0 (92.5)``; ``92.0†`` for one seed; ``– (92.5)`` when not run."""
    if cell is None or cell.mean is None:
        text = NOT_RUN if cell is None else "n/a"
    else:
        text = _pct(cell.mean)
        if cell.n_seeds >= 2 and cell.ci95 is not None:
            text += f" ± {_pct(cell.ci95)}"
        if cell.off_protocol:
            text += OFF_PROTOCOL
    if paper_score is not None:
        text += f" ({paper_score:.1f})"
    return text


def _demo_label(n: int | None) -> str:
    return "all" if n is None else str(n)


def _column_label(task: str, paper: PaperResults) -> str:
    t = paper.task(task)
    return f"`{task}`" if t is None or t.label == task else f"{t.label} (`{task}`)"


TITLES = {"test": "test success (%), in the layout of the paper's Table 1",
          "val": "validation success (%) of the selected checkpoint, in the layout of the "
                 "paper's Table 4"}


def render_markdown(cells: Sequence[Cell], paper: PaperResults, split: str = "test") -> str:
    """The table as markdown (deterministic: the same cells give the same text)."""
    methods, demos, blocks = layout(cells, paper)
    by_key = {(c.method, c.task, c.n_demos): c for c in cells}
    lines = [f"## CLIPort results: {TITLES[split]}", "",
             "Each cell: our mean ± the 95 % confidence half-width (Student t over evaluation "
             "seeds; a seed's score is the mean partial-credit score of its episodes), then "
             "the paper's number in parentheses (one seed of 100 episodes). "
             f"{OFF_PROTOCOL} fewer than {MIN_SEEDS} seeds or fewer than {MIN_EPISODES} "
             f"episodes a seed (not the paper's protocol). {NOT_RUN} not run.", ""]
    if not cells:
        return "\n".join([*lines, "No results.", ""])
    for block, tasks in blocks:
        title = "Other tasks" if block == OTHER_BLOCK else f"Block {block}"
        lines += [f"**{title}**", "",
                  "Columns: " + " | ".join(_column_label(t, paper) for t in tasks) + ".", ""]
        header = ["Method"] + [_demo_label(n) for _ in tasks for n in demos]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("| " + " | ".join("---" for _ in header) + " |")
        for m in methods:
            if not any((m, t, n) in by_key for t in tasks for n in demos):
                continue
            paper_method = next(c.paper_method for c in cells if c.method == m)
            row = [m] + [cell_text(by_key.get((m, t, n)),
                                   by_key[(m, t, n)].paper if (m, t, n) in by_key
                                   else paper.score(split, paper_method, t, n))
                         for t in tasks for n in demos]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += ["Sources:", ""]
    seen: set[tuple[str, int | None, str]] = set()
    order = _method_key(paper, cells)
    for c in sorted(cells, key=lambda c: (order(c.method), _demo_key(c.n_demos))):
        key = (c.method, c.n_demos, c.source)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- {c.method}, {_demo_label(c.n_demos)} demos: {c.source or '?'}"
                     + (f" ({c.checkpoint})" if c.checkpoint else ""))
    lines.append("")
    return "\n".join(lines)


def table_json(cells: Sequence[Cell], paper: PaperResults, split: str = "test"
               ) -> dict[str, Any]:
    methods, demos, blocks = layout(cells, paper)
    order = _method_key(paper, cells)
    return {"split": split, "methods": methods, "demos": demos,
            "blocks": [{"block": b, "tasks": ts} for b, ts in blocks],
            "min_seeds": MIN_SEEDS, "min_episodes_per_seed": MIN_EPISODES,
            "cells": [{**asdict(c), "mean_pct": None if c.mean is None else 100 * c.mean,
                       "ci95_pct": None if c.ci95 is None else 100 * c.ci95,
                       "off_protocol": c.off_protocol}
                      for c in sorted(cells, key=lambda c: (order(c.method), c.task,
                                                            _demo_key(c.n_demos)))]}


# --------------------------------------------------------------------------- chart
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def _font(size: int):
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
    return _wrap(task, max(6, group_w // CHAR_W - 1)) + [f"n={_demo_label(n_demos)}"]


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
    font, small = _font(13), _font(11)
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


# --------------------------------------------------------------------------- files
def load_records(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """``results.json`` contents from files, run directories or folders holding runs."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif (p / "eval" / "results.json").is_file():
            files.append(p / "eval" / "results.json")
        elif (p / "results.json").is_file():
            files.append(p / "results.json")
        elif p.is_dir():
            found = sorted(p.glob("**/eval/results.json"))
            if not found:
                raise FileNotFoundError(f"{p}: no */eval/results.json below it")
            files += found
        else:
            raise FileNotFoundError(f"{p}: no such results file or directory")
    records = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{f}: not readable JSON: {exc}") from exc
        records.append({**data, "source": data.get("run") or str(f.parent.parent)})
    return records


def write_table(records: Sequence[dict[str, Any]], out: str | os.PathLike,
                paper: PaperResults | None = None, split: str = "test",
                name: str | None = None) -> dict[str, Path]:
    """``table.md``, ``table.json`` and ``table.png`` (``table-val.*`` for val) in ``out``."""
    paper = paper or load_paper()
    cells = collect(records, paper, split)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = name or ("table" if split == "test" else f"table-{split}")
    paths = {"md": out / f"{stem}.md", "json": out / f"{stem}.json", "png": out / f"{stem}.png"}
    paths["md"].write_text(render_markdown(cells, paper, split))
    paths["json"].write_text(json.dumps(table_json(cells, paper, split), indent=1))
    render_png(cells, paper, paths["png"], split)
    return paths


@one_line_errors("cliport-results-table", ValueError)
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-results-table",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+",
                    help="results.json files, run directories, or folders of runs")
    ap.add_argument("--out", required=True, type=Path, help="where table.{md,json,png} go")
    ap.add_argument("--split", default="test", choices=SPLITS)
    ap.add_argument("--paper", type=Path, help="the paper's numbers (default: the package's)")
    args = ap.parse_args(argv)
    try:
        records = load_records(args.results)
        paths = write_table(records, args.out, load_paper(args.paper), args.split)
    except (OSError, ValueError) as exc:
        print(f"cliport-results-table: error: {exc}", file=sys.stderr)
        return 2
    print(paths["md"].read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
