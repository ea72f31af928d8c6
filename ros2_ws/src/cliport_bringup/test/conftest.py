"""Fixtures shared by the real-arm bringup tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SIM_CALIBRATION = Path(__file__).resolve().parents[4] / "calibration" / "sim_eye_to_hand_front.yaml"


@pytest.fixture
def fr3_calibration(tmp_path):
    """A hand-eye result as cliport-handeye writes it on an FR3 (fr3_link0 -> camera_link)."""
    data = yaml.safe_load(SIM_CALIBRATION.read_text())
    data.update(parent_frame="fr3_link0", child_frame="camera_link",
                optical_frame="camera_color_optical_frame")
    path = tmp_path / "fr3_realsense.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def moveit_file(tmp_path):
    path = tmp_path / "moveit_py.params.yaml"
    path.write_text("/**:\n  ros__parameters:\n    robot_description: x\n")
    return path
