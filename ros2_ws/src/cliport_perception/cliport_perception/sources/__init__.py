"""RGB-D sources: one interface (:class:`RGBDSource`) for every camera input.

Core (no rclpy): the interface and registry (``base``), frame health counters
(``health``), pyrealsense2 devices (``realsense``). The ROS-topic source needs rclpy and
lives in :mod:`cliport_perception.ros.topic_source`; the simulator's source lives in
``cliport_sim``.
"""

from cliport_perception.sources.base import (
    RGBDSource,
    SourceError,
    available_sources,
    make_source,
    register_source,
)
from cliport_perception.sources.health import CameraHealth, FrameHealth

__all__ = ["CameraHealth", "FrameHealth", "RGBDSource", "SourceError", "available_sources",
           "make_source", "register_source"]
