"""Typed configuration of the recorder (``config/recorder.yaml``); ROS parameters mirror it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cliport_common.config import ConfigError, config_path, load_config
from cliport_teleop.security import bind_problem, check_token_value

GRIPPERS = ("suction", "parallel")


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
    # The arm's tool. "suction": the pick has no yaw (0, a cup's). "parallel" (a Franka
    # Hand): a drag at the pick sets the grasp yaw, drawn as the two fingers.
    gripper: str = "suction"
    finger_opening: float = 0.08  # m between the fingers as the page draws them (parallel)
    # The place z is the highest surface within this radius of the place cell (m) plus the
    # picked height: a gripped object's whole footprint comes down on what lies under it.
    # 0: the place cell's surface only (a suction cup's release point).
    place_support_radius: float = 0.0
    # m added to the place z: a parallel gripper opens this far above the support, so its
    # fingers clear what is under and around the object (a bowl's floor and walls).
    place_clearance: float = 0.0
    # m: a clicked cell no camera saw (a depth hole) takes the median height of the seen
    # cells this near; with none, the step is refused.
    unseen_radius: float = 0.01
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
        if self.gripper not in GRIPPERS:
            raise ConfigError(f"gripper must be one of {list(GRIPPERS)}, got {self.gripper!r}")
        if not 0.0 < self.finger_opening <= 1.0:
            raise ConfigError(f"finger_opening must be in (0, 1] m, got {self.finger_opening}")
        if not 0.0 <= self.unseen_radius <= 0.1:
            raise ConfigError(f"unseen_radius must be in [0, 0.1] m, got {self.unseen_radius}")
        if not (0.0 <= self.place_support_radius <= 0.5 and 0.0 <= self.place_clearance <= 0.1):
            raise ConfigError(f"place_support_radius must be in [0, 0.5] m and place_clearance "
                              f"in [0, 0.1] m, got {self.place_support_radius}, "
                              f"{self.place_clearance}")
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
