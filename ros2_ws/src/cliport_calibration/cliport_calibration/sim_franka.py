"""Hand-eye calibration on the Franka twin: the board on the Franka Hand, the twin's RealSense.

Eye-to-hand, as a user of the real rig does it (calibration/README.md): a ChArUco board on
a bracket on the hand, the arm moved through tilted and turned poses in front of the one
camera. Each sample is the effector pose the arm reports (forward kinematics of its joints in
the arm's kinematic model, as franka_robot_state_broadcaster's ``current_pose``) and the board
pose detected in the rig's colour image (640x480, with its noise). The frames and the board
are the real setup's (``config/handeye.yaml``); the result is written in the same format,
ending in ``camera_link`` with the twin driver's ``camera_link -> optical`` transform, and is
compared with where the rig's own calibration file placed the camera.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cliport_calibration import charuco, transforms
from cliport_calibration.config import HandEyeConfig, load_handeye_config
from cliport_calibration.handeye import calibrate
from cliport_calibration.result_file import CameraIntrinsics
from cliport_calibration.sim import (
    PyBulletScene,
    SimCalibrationReport,
    add_board,
    reported_sample,
)

# Franka Hand TCP (hand_tcp: z along the fingers, down when top-down) -> board quad (texture
# seen from its +z). A bracket holds the board 10 cm ahead of the fingers and 5 cm above the
# fingertips, facing 60 deg up from the horizontal: at the camera when the tool is top-down.
FRANKA_MOUNT = ((0.10, 0.0, -0.05),
                tuple(Rotation.from_euler("y", math.radians(150.0)).as_quat()))
SAMPLE_BOX = ((0.36, -0.18, 0.15), (0.56, 0.18, 0.35))  # TCP positions sampled (m, base)
POSE_TOLERANCE = (1e-3, math.radians(0.5))  # a sample pose's IK must be this exact


@dataclass(frozen=True)
class FrankaCalibrationConfig:
    n_samples: int = 20
    seed: int = 0
    robot_noise_mm: float = 0.0  # reported effector position noise (a real arm's repeatability)
    robot_noise_deg: float = 0.0
    max_tilt_deg: float = 30.0
    max_yaw_deg: float = 35.0
    rig_calibration: str = ""  # where the twin's camera stands; "" = the rig config's file
    franka_config: str = ""  # franka.yaml with the franka and rig sections; "" = the package's
    setup: str = "franka_twin_handeye"  # the result's setup name
    handeye: HandEyeConfig = field(default_factory=load_handeye_config)  # frames, board, solver


def sample_poses(cfg: FrankaCalibrationConfig, rng: np.random.Generator
                 ) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """(TCP position, top-down yaw, TCP rotation): top-down, turned, then tilted."""
    from cliport_sim.franka.kinematics import top_down_rotation

    lo, hi = (np.asarray(b) for b in SAMPLE_BOX)
    poses = []
    for _ in range(cfg.n_samples * 4):
        yaw = math.radians(rng.uniform(-cfg.max_yaw_deg, cfg.max_yaw_deg))
        axis_angle = rng.uniform(0, 2 * math.pi)
        tilt = math.radians(rng.uniform(0.3, 1.0) * cfg.max_tilt_deg)
        axis = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
        R = Rotation.from_rotvec(axis * tilt).as_matrix() @ top_down_rotation(yaw)
        poses.append((rng.uniform(lo, hi), yaw, R))
    return poses


class FrankaCalibrationRig(PyBulletScene):
    """The twin for calibrating: table, Panda + Franka Hand, the rig's camera, the board."""

    def __init__(self, cfg: FrankaCalibrationConfig) -> None:
        import pybullet as p

        from cliport_sim import cameras
        from cliport_sim.assets import asset_path
        from cliport_sim.franka import kinematics
        from cliport_sim.franka.arm import FrankaArm
        from cliport_sim.franka.config import load_franka_config
        from cliport_sim.franka.rig import CameraRig, load_rig_config

        self._p, self._cameras, self._kin = p, cameras, kinematics
        franka = load_franka_config(cfg.franka_config or None)
        self.tcp_offset = franka.tcp_offset
        self.limits = franka.limits
        self.model = franka.model
        self.client = p.connect(p.DIRECT)
        cameras.load_egl(self.client)
        self._tmp = tempfile.TemporaryDirectory(prefix="cliport-charuco-")
        try:
            with cameras.quiet_stdout():
                p.loadURDF(str(asset_path("plane/plane.urdf")), (0, 0, -0.001),
                           physicsClientId=self.client)
                p.loadURDF(str(asset_path("workspace/workspace.urdf")), (0.5, 0, 0),
                           physicsClientId=self.client)
            self.arm = FrankaArm(self.client, franka)
            self.rig = CameraRig(self.client, load_rig_config(cfg.franka_config or None),
                                 cfg.rig_calibration or None)
            self.board, self.T_quad_board = add_board(self.client, cfg.handeye.board,
                                                      Path(self._tmp.name))
        except BaseException:
            self.close()
            raise
        self.mount = transforms.from_pose(*FRANKA_MOUNT)

    def move_tool(self, xyz: np.ndarray, yaw: float, R: np.ndarray) -> np.ndarray | None:
        """Put the TCP at (xyz, R) and the board on it; the reported pose, or None."""
        kin = self._kin
        seed = self.arm.ik(xyz, yaw)  # the top-down pose at the same place: the elbow's seed
        if seed is None:
            return None
        q = kin.refine(seed, xyz, R, self.limits, self.tcp_offset, iterations=100)
        dt, dr = kin.pose_error(q, xyz, R, self.tcp_offset)
        if dt > POSE_TOLERANCE[0] or dr > POSE_TOLERANCE[1] or not self.limits.contains(q):
            return None
        self.arm.reset(q)
        T_hand = self.arm.tcp_transform()  # where the simulated hand really is: the board
        t, quat = transforms.to_pose(T_hand @ self.mount)
        self._p.resetBasePositionAndOrientation(self.board, t, quat,
                                                physicsClientId=self.client)
        return kin.tcp_transform(self.arm.joints(), self.tcp_offset)  # what the arm reports

    def image(self, rng: np.random.Generator) -> np.ndarray:
        return self.rig.render_frame(rng).color


def twin_handeye_config(cfg: FrankaCalibrationConfig) -> HandEyeConfig:
    """The real setup's frames and board, under the twin's setup name."""
    return dataclasses.replace(cfg.handeye, setup=cfg.setup, calibration_type="eye_to_hand")


def run_franka_calibration(cfg: FrankaCalibrationConfig | None = None) -> SimCalibrationReport:
    """Collect samples on the twin, calibrate, and measure the error against the rig's pose."""
    cfg = cfg or FrankaCalibrationConfig()
    handeye = twin_handeye_config(cfg)
    rng = np.random.default_rng(cfg.seed)
    board = charuco.make_board(handeye.board)
    samples, skipped, attempted = [], [], 0
    with FrankaCalibrationRig(cfg) as rig:
        K = np.asarray(rig.rig.config.intrinsics, dtype=np.float64).reshape(3, 3)
        truth = rig.rig.pose.T_base_optical
        for xyz, yaw, R in sample_poses(cfg, rng):
            if len(samples) >= cfg.n_samples:
                break
            attempted += 1
            T_tcp = rig.move_tool(xyz, yaw, R)
            if T_tcp is None:
                skipped.append("unreachable")
                continue
            try:
                det = charuco.detect(rig.image(rng), K, None, handeye.board, handeye.detection,
                                     board=board)
            except charuco.NoBoard as exc:
                skipped.append(str(exc))
                continue
            samples.append(reported_sample(T_tcp, det, cfg.robot_noise_mm, cfg.robot_noise_deg,
                                           rng))
        cam = rig.rig.config
        intrinsics = CameraIntrinsics(cam.width, cam.height, tuple(cam.intrinsics), "plumb_bob",
                                      (0.0,) * 5)
        T_link_optical = rig.rig.pose.T_link_optical
        model = rig.model
    result = calibrate(samples, "eye_to_hand", handeye.solver)
    dt, dr = transforms.difference(result.T, truth)
    return SimCalibrationReport(result, samples, truth, dt * 1000.0, math.degrees(dr),
                                attempted, intrinsics, skipped, f"franka_twin_{model}",
                                T_link_optical)
