"""Solve the hand-eye transform from (robot pose, board pose) samples, with outlier rejection.

Conventions (OpenCV's ``calibrateHandEye`` names, as easy_handeye2 uses them):

- eye-to-hand (camera fixed, board on the effector): the unknown is ``T_base_cam``. OpenCV
  solves eye-in-hand; fed the *inverted* robot poses (base in effector) in its gripper2base
  slots it returns cam2base instead. The board's pose in the effector is the second,
  implied unknown.
- eye-in-hand (camera on the effector, board fixed): the unknown is ``T_effector_cam``; the
  board's pose in the base is implied.

Residuals: with the solution X, every sample gives its own estimate of the implied constant
(board in effector, or board in base). Its distance (mm, deg) from their mean is the
sample's residual: how far that sample disagrees with the rest, in units a user can judge.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from cliport_calibration import transforms
from cliport_calibration.charuco import require_opencv
from cliport_calibration.config import CALIBRATION_TYPES, SolverConfig

MIN_ROTATION_SPREAD_DEG = 15.0  # below this the rotation part of AX = XB is degenerate


class CalibrationError(ValueError):
    """The samples cannot give a trustworthy calibration (the message says what to do)."""


@dataclass(frozen=True)
class Sample:
    """One calibration sample: the effector in the robot base and the board in the camera."""

    T_base_effector: np.ndarray
    T_cam_board: np.ndarray
    stamp_ns: int = 0
    n_corners: int = 0
    reprojection_rms_px: float = 0.0

    def __post_init__(self) -> None:
        for name in ("T_base_effector", "T_cam_board"):
            T = np.asarray(getattr(self, name), dtype=np.float64)
            if T.shape != (4, 4) or not np.all(np.isfinite(T)):
                raise ValueError(f"{name} must be a finite 4x4 matrix")
            R = T[:3, :3]
            if (np.abs(R.T @ R - np.eye(3)).max() > 1e-5 or np.linalg.det(R) < 0
                    or np.abs(T[3] - [0, 0, 0, 1]).max() > 1e-9):
                raise ValueError(f"{name} is not a rigid transform")
            object.__setattr__(self, name, T)


@dataclass(frozen=True)
class Residual:
    """How far one sample disagrees with the solved transform."""

    translation_mm: float
    rotation_deg: float
    rejected: bool  # left out of the final solve as an outlier


@dataclass(frozen=True)
class HandEyeResult:
    """``T`` = parent -> camera optical frame (base -> cam, or effector -> cam)."""

    T: np.ndarray
    calibration_type: str
    method: str
    residuals: list[Residual]
    T_implied: np.ndarray  # board in the effector (eye-to-hand) or in the base (eye-in-hand)
    rotation_spread_deg: float
    notes: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return len(self.residuals)

    @property
    def used(self) -> list[int]:
        return [i for i, r in enumerate(self.residuals) if not r.rejected]

    @property
    def rejected(self) -> list[int]:
        return [i for i, r in enumerate(self.residuals) if r.rejected]

    def rms(self) -> tuple[float, float]:
        """RMS residual (mm, deg) over the samples used."""
        used = [self.residuals[i] for i in self.used]
        return (math.sqrt(np.mean([r.translation_mm ** 2 for r in used])),
                math.sqrt(np.mean([r.rotation_deg ** 2 for r in used])))


def _solve(samples: list[Sample], calibration_type: str, method: str) -> np.ndarray:
    cv2 = require_opencv()
    robot = [s.T_base_effector if calibration_type == "eye_in_hand"
             else transforms.invert(s.T_base_effector) for s in samples]
    R, t = cv2.calibrateHandEye(
        [T[:3, :3] for T in robot], [T[:3, 3].reshape(3, 1) for T in robot],
        [s.T_cam_board[:3, :3] for s in samples], [s.T_cam_board[:3, 3].reshape(3, 1)
                                                    for s in samples],
        method=getattr(cv2, f"CALIB_HAND_EYE_{method.upper()}"))
    X = transforms.make(R, t.reshape(3))
    if not np.all(np.isfinite(X)):
        raise CalibrationError(f"calibrateHandEye ({method}) returned a non-finite result; "
                               f"try another method or more varied poses")
    # Re-orthonormalise: some methods return a slightly non-orthogonal R.
    U, _, Vt = np.linalg.svd(X[:3, :3])
    X[:3, :3] = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    return X


def implied(samples: list[Sample], X: np.ndarray, calibration_type: str) -> list[np.ndarray]:
    """Each sample's estimate of the constant the solution implies (see the module doc)."""
    if calibration_type == "eye_to_hand":
        return [transforms.invert(s.T_base_effector) @ X @ s.T_cam_board for s in samples]
    return [s.T_base_effector @ X @ s.T_cam_board for s in samples]


def _residuals(samples, X, calibration_type, used):
    estimates = implied(samples, X, calibration_type)
    Y = transforms.mean_pose([estimates[i] for i in used])
    out = []
    for T in estimates:
        dt, dr = transforms.difference(T, Y)
        out.append((dt * 1000.0, math.degrees(dr)))
    return Y, out


def _robust_limit(values: np.ndarray, k: float) -> float:
    """median + k robust standard deviations (1.4826 MAD)."""
    median = float(np.median(values))
    return median + k * 1.4826 * float(np.median(np.abs(values - median)))


def rotation_spread_deg(samples: list[Sample]) -> float:
    """Largest rotation between any two robot poses (degrees)."""
    Rs = [s.T_base_effector[:3, :3] for s in samples]
    return max((math.degrees(transforms.rotation_angle(a.T @ b))
                for a, b in itertools.combinations(Rs, 2)), default=0.0)


def calibrate(samples: list[Sample], calibration_type: str = "eye_to_hand",
              solver: SolverConfig | None = None) -> HandEyeResult:
    """Solve, then drop outliers one at a time (worst first) and solve again."""
    solver = solver or SolverConfig()
    if calibration_type not in CALIBRATION_TYPES:
        raise CalibrationError(f"calibration_type must be one of {list(CALIBRATION_TYPES)}")
    n = len(samples)
    if n < solver.min_samples:
        raise CalibrationError(f"{n} samples; at least {solver.min_samples} are needed "
                               f"(aim for 15-20 varied poses)")
    spread = rotation_spread_deg(samples)
    if spread < MIN_ROTATION_SPREAD_DEG:
        raise CalibrationError(
            f"the robot poses differ by at most {spread:.1f} deg in orientation; hand-eye "
            f"calibration needs rotations about different axes (>= {MIN_ROTATION_SPREAD_DEG:.0f}"
            f" deg): tilt and turn the effector between samples")
    used = list(range(n))
    max_rejected = int(solver.max_outlier_fraction * n)
    notes = []
    while True:
        X = _solve([samples[i] for i in used], calibration_type, solver.method)
        Y, res = _residuals(samples, X, calibration_type, used)
        t = np.array([res[i][0] for i in used])
        r = np.array([res[i][1] for i in used])
        t_lim = max(solver.outlier_floor_mm, _robust_limit(t, solver.outlier_mad))
        r_lim = max(solver.outlier_floor_deg, _robust_limit(r, solver.outlier_mad))
        score = np.maximum(t / t_lim, r / r_lim)
        worst = int(np.argmax(score))
        if score[worst] <= 1.0:
            break
        if n - len(used) >= max_rejected or len(used) - 1 < solver.min_samples:
            notes.append(f"sample {used[worst]} still looks like an outlier "
                         f"({t[worst]:.1f} mm, {r[worst]:.2f} deg) but no more samples may be "
                         f"rejected; collect more samples")
            break
        notes.append(f"rejected sample {used[worst]}: {t[worst]:.1f} mm, {r[worst]:.2f} deg "
                     f"(limits {t_lim:.1f} mm, {r_lim:.2f} deg)")
        used.pop(worst)
    residuals = [Residual(round(dt, 4), round(dr, 5), i not in used)
                 for i, (dt, dr) in enumerate(res)]
    return HandEyeResult(X, calibration_type, solver.method, residuals, Y, spread, notes)
