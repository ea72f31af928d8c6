"""The solver on synthetic samples: exact data, noise, outliers, degenerate motion."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cliport_calibration import transforms
from cliport_calibration.config import METHODS, SolverConfig
from cliport_calibration.handeye import CalibrationError, Sample, calibrate


def random_pose(rng, t_scale=0.3, max_angle=math.pi):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return transforms.make(axis * rng.uniform(0, max_angle), rng.uniform(-t_scale, t_scale, 3))


def synthetic(calibration_type, n=15, seed=0, noise_mm=0.0, noise_deg=0.0):
    """Samples from a known X (base->cam or effector->cam) and a fixed board."""
    rng = np.random.default_rng(seed)
    X = random_pose(rng, 1.0)
    Y = random_pose(rng, 0.2)  # board in effector (eye-to-hand) / in base (eye-in-hand)
    samples = []
    for _ in range(n):
        E = transforms.make(Rotation.from_euler("xyz", rng.uniform(-0.6, 0.6, 3)).as_matrix(),
                            rng.uniform(-0.3, 0.3, 3) + [0.5, 0, 0.3])
        if calibration_type == "eye_to_hand":
            B = transforms.invert(X) @ E @ Y
        else:
            B = transforms.invert(X) @ transforms.invert(E) @ Y
        B = B @ transforms.make(rng.normal(0, math.radians(noise_deg), 3) if noise_deg
                                else np.zeros(3), rng.normal(0, noise_mm / 1000, 3))
        samples.append(Sample(E, B))
    return X, Y, samples


@pytest.mark.parametrize("calibration_type", ["eye_to_hand", "eye_in_hand"])
@pytest.mark.parametrize("method", METHODS)
def test_exact_samples_give_the_true_transform(calibration_type, method):
    X, Y, samples = synthetic(calibration_type)
    result = calibrate(samples, calibration_type, SolverConfig(method=method))
    dt, dr = transforms.difference(result.T, X)
    assert dt < 1e-5 and dr < 1e-5
    assert transforms.difference(result.T_implied, Y)[0] < 1e-5
    assert result.rejected == [] and result.rms()[0] < 1e-3


def test_noisy_samples_stay_close_and_report_their_residuals():
    X, _, samples = synthetic("eye_to_hand", n=20, noise_mm=0.5, noise_deg=0.05)
    result = calibrate(samples, "eye_to_hand")
    dt, dr = transforms.difference(result.T, X)
    assert dt < 2e-3 and math.degrees(dr) < 0.2
    rms_mm, rms_deg = result.rms()
    assert 0.1 < rms_mm < 3.0 and rms_deg < 0.5


@pytest.mark.parametrize("calibration_type", ["eye_to_hand", "eye_in_hand"])
def test_gross_outliers_are_rejected_and_do_not_move_the_result(calibration_type):
    X, _, samples = synthetic(calibration_type, n=18, noise_mm=0.3, noise_deg=0.03, seed=3)
    bad = [2, 11]
    for i in bad:  # a robot pose read at the wrong time: 4 cm and 5 deg off
        s = samples[i]
        samples[i] = Sample(s.T_base_effector @ transforms.make(
            np.radians([5.0, 0, 0]), (0.04, 0, 0)), s.T_cam_board)
    result = calibrate(samples, calibration_type)
    assert sorted(result.rejected) == bad
    assert all(r.rejected == (i in bad) for i, r in enumerate(result.residuals))
    dt, dr = transforms.difference(result.T, X)
    assert dt < 2e-3 and math.degrees(dr) < 0.2


def test_rejection_stops_at_the_allowed_fraction_and_says_so():
    X, _, samples = synthetic("eye_to_hand", n=10, seed=4, noise_mm=0.2)
    for i, dx in zip((1, 4, 7), (0.10, -0.12, 0.15), strict=True):
        s = samples[i]
        samples[i] = Sample(s.T_base_effector @ transforms.make(np.zeros(3), (dx, 0, 0)),
                            s.T_cam_board)
    result = calibrate(samples, "eye_to_hand", SolverConfig(max_outlier_fraction=0.2))
    assert len(result.rejected) == 2
    assert any("no more samples may be rejected" in n for n in result.notes)


def test_too_few_samples_and_pure_translations_are_refused_with_advice():
    _, _, samples = synthetic("eye_to_hand", n=4)
    with pytest.raises(CalibrationError, match="at least 6"):
        calibrate(samples, "eye_to_hand")
    R = np.eye(3)
    same = [Sample(transforms.make(R, (0.4 + 0.01 * i, 0.0, 0.3)), s.T_cam_board)
            for i, s in enumerate(synthetic("eye_to_hand", n=8)[2])]
    with pytest.raises(CalibrationError, match="tilt and turn"):
        calibrate(same, "eye_to_hand")


def test_samples_must_be_rigid_transforms():
    with pytest.raises(ValueError, match="finite 4x4"):
        Sample(np.full((4, 4), np.nan), np.eye(4))
    with pytest.raises(ValueError, match="rigid"):
        Sample(np.diag([2.0, 1, 1, 1]), np.eye(4))
    with pytest.raises(ValueError, match="finite 4x4"):
        Sample(np.eye(3), np.eye(4))
