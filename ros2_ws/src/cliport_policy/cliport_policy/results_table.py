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
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cliport_common.cli import one_line_errors
from cliport_policy.results_cells import (
    MIN_EPISODES,
    MIN_SEEDS,
    NOT_RUN,
    OFF_PROTOCOL,
    OTHER_BLOCK,
    SPLITS,
    Cell,
    PaperResults,
    collect,
    demo_label,
    demo_order,
    layout,
    load_paper,
    method_order,
)
from cliport_policy.results_chart import render_png


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
        header = ["Method"] + [demo_label(n) for _ in tasks for n in demos]
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
    order = method_order(paper, cells)
    for c in sorted(cells, key=lambda c: (order(c.method), demo_order(c.n_demos))):
        key = (c.method, c.n_demos, c.source)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- {c.method}, {demo_label(c.n_demos)} demos: {c.source or '?'}"
                     + (f" ({c.checkpoint})" if c.checkpoint else ""))
    lines.append("")
    return "\n".join(lines)


def table_json(cells: Sequence[Cell], paper: PaperResults, split: str = "test"
               ) -> dict[str, Any]:
    methods, demos, blocks = layout(cells, paper)
    order = method_order(paper, cells)
    return {"split": split, "methods": methods, "demos": demos,
            "blocks": [{"block": b, "tasks": ts} for b, ts in blocks],
            "min_seeds": MIN_SEEDS, "min_episodes_per_seed": MIN_EPISODES,
            "cells": [{**asdict(c), "mean_pct": None if c.mean is None else 100 * c.mean,
                       "ci95_pct": None if c.ci95 is None else 100 * c.ci95,
                       "off_protocol": c.off_protocol}
                      for c in sorted(cells, key=lambda c: (order(c.method), c.task,
                                                            demo_order(c.n_demos)))]}


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
