"""What the reproduction scripts (``reproduce_multitask.py``, ``reproduce_gripper.py``) share:
the policy config with a preset's overrides, the smoke preset's training sizes, and the
arguments every reproduction takes. Imported from ``scripts/``, next to them."""

from __future__ import annotations

import argparse
import dataclasses
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


def add_run_arguments(ap: argparse.ArgumentParser, presets: dict[str, Any], config: str
                      ) -> None:
    """``--preset``, ``--config``, ``--workers``, ``--train-minutes`` and ``--quiet``."""
    ap.add_argument("--preset", default="cpu", choices=sorted(presets))
    ap.add_argument("--config", default=config, help="policy config name or YAML file")
    ap.add_argument("--workers", type=int, default=2, help="simulator processes")
    ap.add_argument("--train-minutes", type=float, help="override the preset's cap")
    ap.add_argument("--quiet", action="store_true")


def chosen_preset(args: argparse.Namespace, presets: dict[str, Any]) -> Any:
    """The preset named by ``--preset``, with ``--train-minutes`` applied."""
    preset = presets[args.preset]
    if args.train_minutes is not None:
        preset = dataclasses.replace(preset, train_minutes=args.train_minutes)
    return preset
