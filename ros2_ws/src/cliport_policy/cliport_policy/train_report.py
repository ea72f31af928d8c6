"""What cliport-train tells a person: a progress total that honours the time cap (so the
ETA is the real one), and a one-line summary at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def capped_total(step: int, elapsed: float, steps: int, max_seconds: float | None) -> int:
    """The step the run will reach: ``steps``, or fewer when ``max_seconds`` ends it first
    at the rate so far (``step`` steps in ``elapsed`` seconds of this session)."""
    if not max_seconds or step <= 0 or elapsed <= 0:
        return steps
    left = max(0.0, max_seconds - elapsed)
    return max(step, min(steps, step + int(left * step / elapsed)))


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def summary_line(metrics: dict[str, Any], steps: int, out: Path,
                 max_minutes: float | None = None, checkpoint: Path | None = None) -> str:
    """``trained 500/3000 steps in 5 min 00 s (stopped by --max-minutes 5); ...``."""
    step = int(metrics.get("step", 0))
    parts = [f"trained {step}/{steps} steps in {_duration(metrics.get('seconds', 0.0))}"
             + (f" (stopped by --max-minutes {max_minutes:g})"
                if metrics.get("stopped_by_time") else "")]
    if "pick_loss" in metrics:
        parts.append(f"loss pick {metrics['pick_loss']:.3f} place {metrics['place_loss']:.3f}")
    if "val_pick_loss" in metrics:
        parts.append(f"val loss pick {metrics['val_pick_loss']:.3f} "
                     f"place {metrics['val_place_loss']:.3f}")
    if metrics.get("samples_per_second"):
        parts.append(f"{metrics['samples_per_second']:.2f} samples/s")
    parts.append(f"checkpoint {checkpoint}" if checkpoint else f"run {out}")
    return "; ".join(parts)
