"""Executor configuration (``config/executor.yaml``), mirrored by the node's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from cliport_perception.config import config_path, load_config
from cliport_perception.workspace import Workspace


@dataclass(frozen=True)
class DryRunConfig:
    """The dry-run backend walks through the phases without moving anything."""

    phase_duration: float = 0.05  # seconds spent in each phase


@dataclass(frozen=True)
class ExecutorConfig:
    base_frame: str = "base"
    backend: str = "dryrun"
    workspace: Workspace = field(default_factory=Workspace)
    workspace_margin: float = 0.0  # metres of tolerance around the workspace box
    max_instruction_length: int = 512
    max_tilt: float = 0.01  # radians of roll/pitch tolerated in an SE(2) goal orientation
    feedback_period: float = 0.0  # 0 = publish feedback at every phase change only
    dryrun: DryRunConfig = field(default_factory=DryRunConfig)


def default_config_file():
    return config_path("cliport_executor", "executor.yaml")


def load_executor_config(path=None) -> ExecutorConfig:
    return load_config(ExecutorConfig, path or default_config_file(), section="executor")
