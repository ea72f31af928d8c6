"""Typed configuration of the recorder (``config/recorder.yaml``); ROS parameters mirror it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cliport_common.config import Check, ConfigError, config_path, load_config
from cliport_teleop.security import bind_problem, check_token_value

GRIPPERS = ("suction", "parallel")


@dataclass(frozen=True)
class RecorderConfig:
    """The teleop page's server, where episodes go, and how clicks become PickPlace goals."""

    host: str = "127.0.0.1"  # the address the page's server binds
    port: int = 8765  # and its port
    # The page's token or password. Empty: a fresh random one each start (loopback only).
    # Required when host is not a loopback address.
    token: str = ""
    # Host names or addresses (no port) the page also answers to, e.g. [rig-pc.local]: the
    # names other machines use when host is 0.0.0.0 / ::. Loopback names always work.
    allowed_hosts: tuple[str, ...] = ()
    rate_limit: float = 20.0  # requests a second per client, sustained (0 = no limit)
    rate_burst: int = 40  # requests a client may send at once
    dataset_dir: str = "data/teleop"  # episodes are written under <dataset_dir>/<task>-<mode>
    task: str = "teleop-pick-place"  # the dataset's task name
    mode: str = "train"  # the dataset's split
    heightmap_topic: str = "/heightmap"  # the maps the page shows and the episodes record
    action_name: str = "/pick_place"  # the executor's PickPlace action
    calibration_id: str = ""  # recorded with every episode, e.g. the calibration setup name
    max_instruction_length: int = 512  # characters of an instruction typed on the page
    server_timeout: float = 2.0  # s to find the executor before a goal is refused
    n_rotations: int = 36  # place rotation bins of the recorded labels
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
    color_topic: str = "/{camera}/color/image_raw"  # a views camera's colour images
    depth_topic: str = "/{camera}/aligned_depth_to_color/image_raw"  # and its aligned depth

    def __post_init__(self) -> None:
        check = Check(self)
        check.within("port", 0, 65535)
        check.at_least(1, "max_instruction_length", "n_rotations", "rate_burst")
        check.one_of("gripper", GRIPPERS)
        check.within("finger_opening", 0.0, 1.0, open_low=True, unit="m")
        check.within("unseen_radius", 0.0, 0.1, unit="m")
        check.within("place_support_radius", 0.0, 0.5, unit="m")
        check.within("place_clearance", 0.0, 0.1, unit="m")
        check.non_negative("rate_limit", note="0 = no limit")
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
