"""The sample file: one JSON line per captured sample, appended and fsynced as captured.

A crash loses at most the line being written; a torn last line is skipped with a warning
when the file is read back, so a session can be re-solved or continued after a restart.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from cliport_calibration.handeye import Sample
from cliport_sim.dataset import append_jsonl, drop_partial_line


class SampleFileError(ValueError):
    """A sample file line is malformed (not a torn last line)."""


def to_row(sample: Sample) -> dict:
    return {"T_base_effector": [float(v) for v in sample.T_base_effector.reshape(-1)],
            "T_cam_board": [float(v) for v in sample.T_cam_board.reshape(-1)],
            "stamp_ns": int(sample.stamp_ns), "n_corners": int(sample.n_corners),
            "reprojection_rms_px": float(sample.reprojection_rms_px)}


def to_json(sample: Sample) -> str:
    return json.dumps(to_row(sample))


def append(path: str | Path, sample: Sample) -> int:
    """Append one sample durably; returns the number of lines (samples) now in the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_partial_line(path)  # a torn line from a crash: drop it before appending
    append_jsonl(path, to_row(sample))
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _sample(data: dict) -> Sample:
    return Sample(np.asarray(data["T_base_effector"], dtype=np.float64).reshape(4, 4),
                  np.asarray(data["T_cam_board"], dtype=np.float64).reshape(4, 4),
                  int(data.get("stamp_ns", 0)), int(data.get("n_corners", 0)),
                  float(data.get("reprojection_rms_px", 0.0)))


def load(path: str | Path) -> list[Sample]:
    path = Path(path)
    try:
        lines = path.read_text().split("\n")
    except OSError as exc:
        raise SampleFileError(f"cannot read samples {path}: {exc}") from exc
    samples = []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            samples.append(_sample(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            if i == last and not lines[i].endswith("}"):
                warnings.warn(f"{path}:{i + 1}: skipping a torn last line (a crash while "
                              f"writing it)", stacklevel=2)
                continue
            raise SampleFileError(f"{path}:{i + 1}: malformed sample: {exc}") from exc
    return samples
