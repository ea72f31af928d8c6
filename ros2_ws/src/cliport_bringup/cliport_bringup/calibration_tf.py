"""The camera's static transform from ``calibration/<setup>.yaml`` (cliport-handeye's file).

Published with tf2_ros's ``static_transform_publisher`` from ``parent_frame`` (the arm base)
to ``child_frame`` (the camera driver's root, ``camera_link``), so the driver's own
``camera_link -> *_optical_frame`` transforms complete the tree and no frame gets two parents.
"""

from __future__ import annotations

from pathlib import Path

from cliport_bringup.graph import NodeSpec
from cliport_calibration import result_file


def static_transform_spec(path: str | Path, name: str = "camera_static_tf") -> NodeSpec:
    return NodeSpec(name=name, package="tf2_ros", executable="static_transform_publisher",
                    arguments=result_file.static_transform_arguments(path))
