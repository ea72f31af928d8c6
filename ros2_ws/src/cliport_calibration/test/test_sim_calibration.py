"""The acceptance check: calibration in the simulator recovers the known camera poses."""

import math

import numpy as np
import pytest

from cliport_calibration import charuco, transforms
from cliport_calibration.sim import (
    EYE_TO_HAND_MOUNT,
    SimCalibrationConfig,
    SimRig,
    run_sim_calibration,
    scaled_camera,
)


@pytest.mark.parametrize(("calibration_type", "camera"),
                         [("eye_to_hand", "front"), ("eye_to_hand", "left"),
                          ("eye_in_hand", "front")])
def test_sim_calibration_is_within_5_mm_and_half_a_degree(calibration_type, camera):
    report = run_sim_calibration(SimCalibrationConfig(calibration_type=calibration_type,
                                                      camera=camera, seed=1))
    assert report.translation_error_mm < 5.0, report.summary()
    assert report.rotation_error_deg < 0.5, report.summary()
    assert len(report.result.used) >= 15


def test_robot_pose_noise_of_a_real_arm_still_calibrates():
    # Franka's pose repeatability is ~0.1 mm; 0.5 mm / 0.05 deg is generous.
    report = run_sim_calibration(SimCalibrationConfig(seed=2, robot_noise_mm=0.5,
                                                      robot_noise_deg=0.05))
    assert report.translation_error_mm < 5.0 and report.rotation_error_deg < 0.5


def test_the_rendered_board_is_detected_where_it_was_put():
    cfg = SimCalibrationConfig()
    camera = scaled_camera("front", cfg.scale)
    K = np.asarray(camera.intrinsics).reshape(3, 3)
    T_base_cam = transforms.from_pose(camera.position, camera.quaternion)
    with SimRig(cfg.board) as rig:
        T_tip = rig.move_tool(transforms.make(np.radians([10.0, -15.0, 0.0]), (0.45, 0.05, 0.2)))
        T_quad = T_tip @ transforms.from_pose(*EYE_TO_HAND_MOUNT)
        rig.place_board(T_quad)
        image = rig.render(camera, None, np.random.default_rng(0), noise=False)
    det = charuco.detect(image, K, None, cfg.board)
    truth = transforms.invert(T_base_cam) @ T_quad @ rig.T_quad_board
    dt, dr = transforms.difference(det.T_cam_board, truth)
    assert dt < 3e-3 and math.degrees(dr) < 0.5
