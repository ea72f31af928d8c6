"""Fixtures shared by the cliport_perception tests: the fuzz tests' small camera rig."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from cliport_perception.camera import CameraModel
from cliport_perception.image_conversion import array_to_image
from cliport_perception.synthetic import Box, render


class FuzzRig:
    """A 16 x 12 camera 1 m above one box, looking straight down, and the messages its driver
    publishes: small enough for hundreds of fuzzed frame sets in seconds."""

    frame = "fz_color_optical_frame"
    position = [0.5, 0.0, 1.0]
    orientation = [0.7071067811865476, -0.7071067811865476, 0.0, 0.0]  # xyzw, straight down
    k = (24.0, 0.0, 8.0, 0.0, 24.0, 6.0, 0.0, 0.0, 1.0)
    width, height = 16, 12

    def __init__(self) -> None:
        self.camera = CameraModel.from_pose(self.k, self.width, self.height, self.position,
                                            self.orientation, frame_id=self.frame)
        self.scene = render(self.camera, [Box((0.5, 0.0), (0.2, 0.2, 0.05))],
                            depth_uint16=True)

    def info_msg(self, width: int | None = None, height: int | None = None, k=None,
                 d=(0.0,) * 5, model: str = "plumb_bob") -> CameraInfo:
        """The rig's CameraInfo, any field replaced."""
        info = CameraInfo(width=self.width if width is None else width,
                          height=self.height if height is None else height,
                          k=[float(v) for v in (self.k if k is None else k)],
                          d=[float(v) for v in d], distortion_model=model)
        info.header.frame_id = self.frame
        return info

    def images(self, depth_encoding: str = "16UC1") -> tuple[Image, Image]:
        """(colour, depth) of the scene; depth in millimetres (16UC1) or metres (32FC1)."""
        depth = self.scene.depth if depth_encoding == "16UC1" else (
            self.scene.depth.astype(np.float32) * np.float32(self.camera.depth_scale))
        return (array_to_image(self.scene.color, "rgb8", frame_id=self.frame),
                array_to_image(depth, depth_encoding, frame_id=self.frame))


@pytest.fixture(scope="session")
def fuzz_rig() -> FuzzRig:
    return FuzzRig()
