"""Typed configuration of the recorder (``config/recorder.yaml``); ROS parameters mirror it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cliport_perception.config import ConfigError, config_path, load_config


@dataclass(frozen=True)
class RecorderConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    dataset_dir: str = "data/teleop"
    task: str = "teleop-pick-place"
    mode: str = "train"
    heightmap_topic: str = "/heightmap"
    action_name: str = "/pick_place"
    calibration_id: str = ""
    max_instruction_length: int = 512
    server_timeout: float = 2.0
    n_rotations: int = 36
    # Raw RGB-D next to the fused maps (an episode's <name>-views.npz): the cameras whose
    # colour + aligned depth to record, on perception's topic layout; empty = maps only.
    views_cameras: tuple[str, ...] = ()
    color_topic: str = "/{camera}/color/image_raw"
    depth_topic: str = "/{camera}/aligned_depth_to_color/image_raw"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be in 0..65535, got {self.port}")
        if self.max_instruction_length < 1 or self.n_rotations < 1:
            raise ConfigError("max_instruction_length and n_rotations must be >= 1")


def load_recorder_config(path: str | Path | None = None) -> RecorderConfig:
    path = path or config_path("cliport_teleop", "recorder.yaml")
    return load_config(RecorderConfig, path, section="recorder")
