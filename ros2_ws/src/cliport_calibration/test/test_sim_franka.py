"""Hand-eye calibration on the Franka twin recovers the rig's camera within 2 mm / 0.5 deg."""

import math
from pathlib import Path

import numpy as np

from cliport_calibration import cli, result_file, transforms
from cliport_calibration.sim_franka import FrankaCalibrationConfig, run_franka_calibration
from cliport_perception.calibration import load_calibration
from cliport_sim.franka.rig import read_rig_pose

REPO = Path(__file__).resolve().parents[4]
TWIN = REPO / "calibration" / "franka_twin.yaml"


def test_the_board_on_the_franka_hand_calibrates_the_twin_camera_within_2_mm():
    report = run_franka_calibration(FrankaCalibrationConfig(seed=1, rig_calibration=str(TWIN)))
    assert report.translation_error_mm < 2.0, report.summary()
    assert report.rotation_error_deg < 0.5, report.summary()
    assert len(report.result.used) >= 15
    np.testing.assert_allclose(report.truth, read_rig_pose(TWIN).T_base_optical, atol=1e-12)
    # the effector poses are a Franka's, tilted and turned about different axes
    assert report.result.rotation_spread_deg > 30.0


def test_one_command_writes_the_file_the_rehearsal_reads(tmp_path, capsys):
    out = tmp_path / "franka_twin_handeye.yaml"
    # a Franka's repeatability (0.1 mm) on the reported poses
    assert cli.main(["sim", "--robot", "franka", "--samples", "12", "--seed", "3",
                     "--robot-noise-mm", "0.1", "--robot-noise-deg", "0.01",
                     "--rig-calibration", str(TWIN), "--out", str(out)]) == 0
    assert "PASS: within 2.0 mm" in capsys.readouterr().out
    written = result_file.read(out)
    # the real setup's frames (config/handeye.yaml), ending in the driver's camera_link
    assert (written.parent_frame, written.child_frame, written.optical_frame) == (
        "fr3_link0", "camera_link", "camera_color_optical_frame")
    truth = read_rig_pose(TWIN)
    np.testing.assert_allclose(written.T_child_optical, truth.T_link_optical, atol=1e-8)
    # perception and the twin's rig read it as the same camera, within the tolerance
    extrinsic = load_calibration(out).extrinsic("camera_color_optical_frame")
    dt, dr = transforms.difference(extrinsic, truth.T_base_optical)
    assert dt < 2e-3 and math.degrees(dr) < 0.5
    np.testing.assert_allclose(read_rig_pose(out).T_base_optical, extrinsic, atol=1e-12)
    assert written.data["robot_type"].startswith("franka_twin_")


def test_the_twin_refuses_an_eye_in_hand_run(capsys):
    assert cli.main(["sim", "--robot", "franka", "--type", "eye_in_hand"]) == 2
    assert "eye_to_hand" in capsys.readouterr().err
