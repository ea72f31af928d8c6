"""Typed configuration of the recorder (``config/recorder.yaml``); ROS parameters mirror it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cliport_perception.config import ConfigError, config_path, load_config
from cliport_teleop.security import bind_problem, check_token_value


@dataclass(frozen=True)
class RecorderConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    # The page's token or password. Empty: a fresh random one each start (loopback only).
    # Required when host is not a loopback address.
    token: str = ""
    # Host names or addresses (no port) the page also answers to, e.g. [rig-pc.local]: the
    # names other machines use when host is 0.0.0.0 / ::. Loopback names always work.
    allowed_hosts: tuple[str, ...] = ()
    rate_limit: float = 20.0  # requests a second per client, sustained (0 = no limit)
    rate_burst: int = 40  # requests a client may send at once
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
        if self.rate_limit < 0 or self.rate_burst < 1:
            raise ConfigError("rate_limit must be >= 0 and rate_burst >= 1")
        try:
            check_token_value(self.token)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        problem = bind_problem(self.host, self.token)
        if problem:
            raise ConfigError(problem)


def load_recorder_config(path: str | Path | None = None) -> RecorderConfig:
    path = path or config_path("cliport_teleop", "recorder.yaml")
    return load_config(RecorderConfig, path, section="recorder")
