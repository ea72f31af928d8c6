"""Evaluation results as table cells next to the paper's numbers, and their layout.

A cell is one measured (method, task, demo count): our mean and 95 % CI over seeds, and the
paper's number for the row it is compared with (``config/paper_results.yaml``). The layout
orders them as the paper does, so the table and the chart agree.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """One task column of the paper's table."""

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
def method_order(paper: PaperResults, cells: Sequence[Cell]):
    """Rows in the paper's order of the rows they are compared with, then by name."""
    compared = {c.method: c.paper_method for c in cells}

    def key(method: str) -> tuple[int, str]:
        row = compared.get(method, method)
        order = paper.methods.index(row) if row in paper.methods else len(paper.methods)
        return order, method
    return key


def demo_order(n: int | None) -> tuple[int, int]:
    """Sort key of demo counts: ascending, ``all`` (None) last."""
    return (1, 0) if n is None else (0, n)


def layout(cells: Sequence[Cell], paper: PaperResults
           ) -> tuple[list[str], list[int | None], list[tuple[str, list[str]]]]:
    """(methods, demo counts, blocks [(name, tasks)]) of the measured cells, in the paper's
    order: its methods, then others by name; its blocks and columns, then other tasks."""
    methods = sorted({c.method for c in cells}, key=method_order(paper, cells))
    demos = sorted({c.n_demos for c in cells}, key=demo_order)
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


def demo_label(n: int | None) -> str:
    """A demo count as a column header: ``all`` for every demo."""
    return "all" if n is None else str(n)
