"""Perception node configuration (``config/perception.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cliport_common.config import config_path, load_config
from cliport_common.frames import BASE_FRAME
from cliport_perception.workspace import Workspace


@dataclass(frozen=True)
class PerceptionConfig:
    base_frame: str = BASE_FRAME
    cameras: list[str] = field(default_factory=lambda: ["camera/camera"])
    color_topic: str = "/{camera}/color/image_raw"
    depth_topic: str = "/{camera}/aligned_depth_to_color/image_raw"
    info_topic: str = "/{camera}/aligned_depth_to_color/camera_info"
    calibration_file: str = ""
    heightmap_topic: str = "heightmap"
    publish_previews: bool = True
    rate: float = 30.0
    fuse_on_arrival: bool = True
    sync_slop: float = 0.02
    stale_after: float = 0.5
    depth_scale: float = 0.001
    floor_tolerance: float = 0.002
    warn_period: float = 5.0
    workspace: Workspace = field(default_factory=Workspace)

    def topics(self, camera: str) -> tuple[str, str, str]:
        return (self.color_topic.format(camera=camera), self.depth_topic.format(camera=camera),
                self.info_topic.format(camera=camera))


def load_perception_config(path=None) -> PerceptionConfig:
    return load_config(PerceptionConfig, path or config_path("cliport_perception",
                                                             "perception.yaml"), "perception")
