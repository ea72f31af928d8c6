"""A training run's files: the demos it reads, its checkpoints, JSON files, logs and
progress bar.

Why: ``cliport-train`` resumes from them and ``cliport-eval`` finds its checkpoints by them.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from cliport_sim.dataset import Dataset, DatasetError

log = logging.getLogger("cliport_policy.train")

LAST = "last.ckpt"
VAL_BEST = "val_best.json"
MODES = ("train", "val", "test")


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.ckpt"


def list_checkpoints(run: str | os.PathLike) -> list[Path]:
    """The run's numbered checkpoints, by step (``last.ckpt`` excluded)."""
    return sorted((Path(run) / "checkpoints").glob("step-*.ckpt"))


def task_name(directory: str | os.PathLike) -> str:
    """``DATA/put-block-in-bowl-seen-colors-train`` -> ``put-block-in-bowl-seen-colors``."""
    name = Path(directory).name
    for mode in MODES:
        if name.endswith(f"-{mode}"):
            return name[:-len(mode) - 1]
    return name


def unique_names(names: list[str]) -> list[str]:
    """Names made unique (``a``, ``a#2``): a dataset given twice keeps its own entry."""
    out: list[str] = []
    for n in names:
        k, i = n, 1
        while k in out:
            i += 1
            k = f"{n}#{i}"
        out.append(k)
    return out


def open_datasets(dirs: list[Path], n_demos: int | None, cache: int) -> list[Dataset]:
    out = []
    for d in dirs:
        try:
            out.append(Dataset(d, n_demos=n_demos, cache_episodes=cache))
        except DatasetError as exc:
            raise SystemExit(f"cliport-train: {exc}") from exc
    return out


def task_progress(interval: dict[str, list], totals: dict[str, int]
                   ) -> dict[str, dict[str, float | None]]:
    """Each task's samples so far and mean losses since the last log line (then reset)."""
    out: dict[str, dict[str, float | None]] = {}
    for name, acc in interval.items():
        n = acc[0]
        out[name] = {"samples": totals[name], "pick_loss": acc[1] / n if n else None,
                     "place_loss": acc[2] / n if n else None}
        acc[:] = [0, 0.0, 0.0]
    return out


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing or not valid JSON (then started again)."""
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; starting it again", path)
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Written under a temporary name, then renamed: readers never see half a file."""
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def append_json(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional at run time
        log.warning("tensorboard is not installed: no TensorBoard logs")
        return None
    return SummaryWriter(str(path))


def progress_bar(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)

