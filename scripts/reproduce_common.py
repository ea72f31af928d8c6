"""What the reproduction scripts (``reproduce_multitask.py``, ``reproduce_gripper.py``,
``reproduce_benchmark.py``) share: the policy config with a preset's overrides, the smoke
preset's training sizes, the arguments every reproduction takes and a row's budget.
Imported from ``scripts/``, next to them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# Training sizes of a ``smoke`` preset: two steps, every checkpoint, log and validation kept.
SMOKE_TRAIN = {"batch_size": 2, "save_steps": [2], "last_every": 1, "log_every": 1,
               "val_every": 2, "val_samples": 1}


def config_file(out: Path, base: str, overrides: dict[str, Any]) -> str:
    """The policy config: a named one, or a copy of it with the preset's overrides."""
    if not overrides:
        return base
    from cliport_policy.config import load_policy_config, to_dict

    data = to_dict(load_policy_config(base))
    for section, values in overrides.items():
        data[section].update(values)
    path = out / "policy_config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero (one-line usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above zero (one-line usage error otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def with_train_overrides(preset: Any, **train: Any) -> Any:
    """``preset`` with ``train`` merged into its config overrides' ``train`` section."""
    overrides = preset.config_overrides
    merged = {**overrides.get("train", {}), **train}
    return dataclasses.replace(preset, config_overrides={**overrides, "train": merged})


def add_run_arguments(ap: argparse.ArgumentParser, presets: dict[str, Any], config: str
                      ) -> None:
    """``--preset``, ``--config``, ``--workers``, ``--train-minutes``, ``--threads`` and
    ``--quiet``."""
    ap.add_argument("--preset", default="cpu", choices=sorted(presets))
    ap.add_argument("--config", default=config, help="policy config name or YAML file")
    ap.add_argument("--workers", type=positive_int, default=2, help="simulator processes")
    ap.add_argument("--train-minutes", type=positive_float, help="override the preset's cap")
    ap.add_argument("--threads", type=positive_int,
                    help="torch threads for training, overriding the config's train.threads "
                         "(2: one row on both cores instead of two rows side by side)")
    ap.add_argument("--quiet", action="store_true")


def chosen_preset(args: argparse.Namespace, presets: dict[str, Any]) -> Any:
    """The preset named by ``--preset``, with ``--train-minutes`` and ``--threads`` applied."""
    preset = presets[args.preset]
    if args.train_minutes is not None:
        preset = dataclasses.replace(preset, train_minutes=args.train_minutes)
    if args.threads is not None:
        preset = with_train_overrides(preset, threads=args.threads)
    return preset


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (demo and eval workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class StageBudget:
    """Wall and CPU seconds of each stage of a row, added up over calls in ``path`` (a run
    that needs several sittings keeps one budget); ``cpu_minutes`` is their total."""

    def __init__(self, path: Path, flush_s: float = 30.0) -> None:
        self.path = path
        self.flush_s = flush_s  # a killed stage loses at most this much of its time
        self.data: dict[str, Any] = (json.loads(path.read_text()) if path.is_file()
                                     else {"calls": 0})
        self.stages: dict[str, dict[str, float]] = self.data.setdefault("stages", {})
        self._lock = threading.Lock()

    def timed(self, name: str, fn: Callable[[], None]) -> None:
        """Run one stage and add its time, written every ``flush_s`` while it runs: a
        sitting killed mid-stage still counts, so a training cap holds over sittings."""
        stage = self.stages.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
        base, w0, c0 = dict(stage), time.perf_counter(), cpu_seconds()
        done = threading.Event()

        def record() -> None:
            with self._lock:
                stage["wall_s"] = base["wall_s"] + time.perf_counter() - w0
                stage["cpu_s"] = base["cpu_s"] + cpu_seconds() - c0
                self._write()

        def flush() -> None:
            while not done.wait(self.flush_s):
                record()

        flusher = threading.Thread(target=flush, daemon=True)
        flusher.start()
        try:
            fn()
        finally:
            done.set()
            flusher.join()
            record()

    def minutes_left(self, stage: str, cap: float) -> float:
        """What is left of a wall-clock cap on ``stage`` over every sitting (0 when spent)."""
        return max(0.0, cap - self.stages.get(stage, {}).get("wall_s", 0.0) / 60.0)

    def finish(self, **facts: Any) -> None:
        """Count this call and record what the row was (task, preset, config ...)."""
        with self._lock:
            self.data.update(calls=self.data["calls"] + 1, **facts,
                             train_cpu_minutes=self.stages.get("train", {}).get("cpu_s", 0.0)
                             / 60)
            self._write()

    def _write(self) -> None:
        self.data["cpu_minutes"] = sum(s["cpu_s"] for s in self.stages.values()) / 60.0
        tmp = self.path.with_suffix(".tmp")  # replaced whole: a kill never leaves half a file
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)
