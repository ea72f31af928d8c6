"""Hand-eye calibration in the simulator, against cameras whose poses are known exactly.

A ChArUco texture rides on the UR5's tool (eye-to-hand: one of the reference RealSense
cameras watches it) or lies on the table (eye-in-hand: a camera rides on the tool). The tool
moves through sample poses; each sample is the tool pose the arm reports (forward kinematics
of its joints, as a real arm's state) and the board pose detected in the rendered image. The
solution is then compared with the camera pose the renderer used.

The board is a textured quad moved with the tool each sample (a rigid mount, without a
collision shape that would disturb the arm).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cliport_calibration import charuco, transforms
from cliport_calibration.config import BoardConfig, DetectionConfig, HandEyeConfig, SolverConfig
from cliport_calibration.handeye import HandEyeResult, Sample, calibrate
from cliport_calibration.result_file import CameraIntrinsics
from cliport_common.frames import BASE_FRAME

# Tip frame (cliport_sim's tip_link: z up when the suction points down) -> board quad.
# The board sits on a bracket 10 cm ahead of the suction cup so the tool does not hide it.
EYE_TO_HAND_MOUNT = ((0.10, 0.0, -0.01), (0.0, 0.0, 0.0, 1.0))
# Tip frame -> camera optical frame (z forward = down, along the suction): 6 cm beside and
# 5 cm above the tip, pitched 10 deg so the tool stays out of view.
EYE_IN_HAND_MOUNT = ((0.06, 0.02, 0.05),
                     tuple(Rotation.from_euler("xyz", (math.pi, math.radians(10), 0)).as_quat()))
TABLE_BOARD_POSE = ((0.5, 0.0, 0.002), (0.0, 0.0, 0.0, 1.0))


@dataclass(frozen=True)
class SimCalibrationConfig:
    calibration_type: str = "eye_to_hand"
    camera: str = "front"  # one of the reference cameras (eye-to-hand)
    scale: float = 2.0  # render at scale x the 640x480 D415 model (1280x960, fx 900)
    n_samples: int = 20
    seed: int = 0
    noise: bool = True  # RealSense-like colour noise in the renders
    robot_noise_mm: float = 0.0  # reported tool position noise (a real arm's repeatability)
    robot_noise_deg: float = 0.0
    max_tilt_deg: float = 35.0
    max_yaw_deg: float = 35.0
    board: BoardConfig = field(default_factory=BoardConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)


@dataclass
class SimCalibrationReport:
    result: HandEyeResult
    samples: list[Sample]
    truth: np.ndarray  # the true parent -> optical transform
    translation_error_mm: float
    rotation_error_deg: float
    attempted: int
    intrinsics: CameraIntrinsics
    skipped: list[str]
    robot_type: str = "ur5_sim"
    T_child_optical: np.ndarray | None = None  # the camera driver's link -> optical, if any

    def summary(self) -> str:
        rms_mm, rms_deg = self.result.rms()
        return (f"{self.result.calibration_type} ({self.result.method}): "
                f"{len(self.result.used)}/{self.result.n_samples} samples used "
                f"({self.attempted} poses tried), error vs truth "
                f"{self.translation_error_mm:.2f} mm / {self.rotation_error_deg:.3f} deg, "
                f"residual RMS {rms_mm:.2f} mm / {rms_deg:.3f} deg")


def _quad_obj(path: Path, w: float, h: float) -> None:
    # UVs put image row 0 at +y: seen from +z the texture reads like the printed board.
    # The texture comes through the OBJ's material: with the EGL renderer, a texture given
    # by loadTexture + changeVisualShape shows the first texture loaded (the plane's).
    path.with_suffix(".mtl").write_text("newmtl board\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\n"
                                        "map_Kd board.png\n")
    path.write_text(f"mtllib {path.with_suffix('.mtl').name}\nusemtl board\n"
                    f"v {-w / 2} {-h / 2} 0\nv {w / 2} {-h / 2} 0\nv {w / 2} {h / 2} 0\n"
                    f"v {-w / 2} {h / 2} 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\n"
                    "f 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n")


def add_board(client: int, board: BoardConfig, folder: Path,
              pixels_per_metre: float = 4000.0) -> tuple[int, np.ndarray]:
    """A visual-only ChArUco quad in ``client`` (texture files go to ``folder``).

    Returns the body and the board frame (OpenCV: origin at the top-left square corner, x
    along the columns, y down the rows, z into the board) in the quad's frame.
    """
    import pybullet as p
    from PIL import Image

    Image.fromarray(charuco.board_image(board, pixels_per_metre)).convert("RGB").save(
        folder / "board.png")
    w, h = board.size
    _quad_obj(folder / "board.obj", w, h)
    visual = p.createVisualShape(p.GEOM_MESH, fileName=str(folder / "board.obj"),
                                 physicsClientId=client)
    body = p.createMultiBody(0, -1, visual, physicsClientId=client)
    return body, transforms.make(np.diag([1.0, -1.0, -1.0]), (-w / 2, h / 2, 0.0))


class PyBulletScene:
    """Owns a PyBullet client, its EGL renderer and a temporary folder (the board texture):
    ``close()`` releases all three, also as a context manager. Subclasses set ``client``,
    ``_p`` (pybullet), ``_cameras`` (cliport_sim.cameras) and ``_tmp``."""

    client: int | None = None

    def close(self) -> None:
        if self.client is not None:
            self._cameras.release_egl(self.client)
            self._p.disconnect(physicsClientId=self.client)
            self.client = None
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SimRig(PyBulletScene):
    """A PyBullet scene: the UR5, the table and a textured ChArUco quad."""

    def __init__(self, board: BoardConfig, pixels_per_metre: float = 4000.0) -> None:
        import pybullet as p

        from cliport_sim import cameras
        from cliport_sim.assets import asset_path
        from cliport_sim.robot import UR5

        self._p = p
        self._cameras = cameras
        self.client = p.connect(p.DIRECT)
        self.egl = cameras.load_egl(self.client)
        self._tmp = tempfile.TemporaryDirectory(prefix="cliport-charuco-")
        with cameras.quiet_stdout():
            p.loadURDF(str(asset_path("plane/plane.urdf")), (0, 0, -0.001),
                       physicsClientId=self.client)
            p.loadURDF(str(asset_path("workspace/workspace.urdf")), (0.5, 0, 0),
                       physicsClientId=self.client)
        self.arm = UR5(self.client)
        self.board, self.T_quad_board = add_board(self.client, board, Path(self._tmp.name),
                                                  pixels_per_metre)

    def place_board(self, T_base_quad: np.ndarray) -> None:
        t, q = transforms.to_pose(T_base_quad)
        self._p.resetBasePositionAndOrientation(self.board, t, q, physicsClientId=self.client)

    def move_tool(self, T_base_tip: np.ndarray) -> np.ndarray | None:
        """Put the tool at ``T_base_tip``; the reported tool pose, or None if unreachable."""
        t, q = transforms.to_pose(T_base_tip)
        if not self.arm.reachable((tuple(t), tuple(q)), tolerance=2e-3):
            return None
        joints = self.arm.solve_ik((tuple(t), tuple(q)))
        for j, v in zip(self.arm.joints, joints, strict=True):
            self._p.resetJointState(self.arm.body, j, float(v), 0.0, physicsClientId=self.client)
        pos, quat = self.arm.tip_pose()
        return transforms.from_pose(pos, quat)

    def render(self, camera, T_base_optical: np.ndarray | None, rng, noise: bool) -> np.ndarray:
        if T_base_optical is not None:  # a camera that moves (eye-in-hand)
            t, q = transforms.to_pose(T_base_optical)
            euler = Rotation.from_quat(q).as_euler("xyz")
            camera = replace(camera, position=tuple(t), euler=tuple(euler))
        return self._cameras.render(self.client, camera, rng=rng, noise=noise, shadow=False).color


def scaled_camera(name: str, scale: float):
    from cliport_sim.cameras import REALSENSE_D415

    by_name = {c.name: c for c in REALSENSE_D415}
    if name not in by_name:
        raise ValueError(f"unknown camera {name!r}; expected one of {sorted(by_name)}")
    cam = by_name[name]
    fx, _, cx, _, fy, cy = cam.intrinsics[:6]
    return replace(cam, width=round(cam.width * scale), height=round(cam.height * scale),
                   intrinsics=(fx * scale, 0.0, cx * scale, 0.0, fy * scale, cy * scale,
                               0.0, 0.0, 1.0))


def sim_camera_matrix(camera) -> np.ndarray:
    """The renderer's camera matrix in OpenCV's pixel convention.

    PyBullet's frustum is symmetric about the image's continuous centre (W/2, H/2); OpenCV
    puts pixel centres on integers, so that point is (W/2 - 0.5, H/2 - 0.5).
    """
    K = np.asarray(camera.intrinsics, dtype=np.float64).reshape(3, 3).copy()
    K[0, 2] = camera.width / 2.0 - 0.5
    K[1, 2] = camera.height / 2.0 - 0.5
    return K


def reported_sample(T_robot: np.ndarray, det: charuco.BoardDetection, noise_mm: float,
                    noise_deg: float, rng: np.random.Generator) -> Sample:
    """A sample as a robot reports it: its pose off by a random rotation of ``noise_deg`` and
    shift of ``noise_mm`` (standard deviations per axis), with the board's detection."""
    reported = T_robot.copy()
    if noise_mm or noise_deg:
        reported = reported @ transforms.make(rng.normal(0, math.radians(noise_deg), 3),
                                              rng.normal(0, noise_mm / 1000.0, 3))
    return Sample(reported, det.T_cam_board, n_corners=det.n_corners,
                  reprojection_rms_px=det.reprojection_rms_px)


def sample_tool_poses(cfg: SimCalibrationConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Tool poses over the table: varied positions, tilts about random axes, and yaws."""
    if cfg.calibration_type == "eye_to_hand":
        lo, hi = np.array([0.30, -0.20, 0.15]), np.array([0.55, 0.20, 0.35])
    else:
        lo, hi = np.array([0.38, -0.12, 0.30]), np.array([0.52, 0.12, 0.42])
    poses = []
    for _ in range(cfg.n_samples * 4):
        axis_angle = rng.uniform(0, 2 * math.pi)
        tilt = math.radians(rng.uniform(0.3, 1.0) * cfg.max_tilt_deg)
        axis = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
        yaw = math.radians(rng.uniform(-cfg.max_yaw_deg, cfg.max_yaw_deg))
        R = (Rotation.from_rotvec(axis * tilt) * Rotation.from_euler("z", yaw)).as_matrix()
        poses.append(transforms.make(R, rng.uniform(lo, hi)))
    return poses


def run_sim_calibration(cfg: SimCalibrationConfig | None = None) -> SimCalibrationReport:
    """Collect samples in the simulator, calibrate, and measure the error against the truth."""
    cfg = cfg or SimCalibrationConfig()
    rng = np.random.default_rng(cfg.seed)
    eye_to_hand = cfg.calibration_type == "eye_to_hand"
    camera = scaled_camera(cfg.camera, cfg.scale)
    K = sim_camera_matrix(camera)
    mount = transforms.from_pose(*(EYE_TO_HAND_MOUNT if eye_to_hand else EYE_IN_HAND_MOUNT))
    truth = (transforms.from_pose(camera.position, camera.quaternion) if eye_to_hand else mount)
    samples, skipped, attempted = [], [], 0
    board = charuco.make_board(cfg.board)
    with SimRig(cfg.board) as rig:
        if not eye_to_hand:
            rig.place_board(transforms.from_pose(*TABLE_BOARD_POSE))
        for T_target in sample_tool_poses(cfg, rng):
            if len(samples) >= cfg.n_samples:
                break
            attempted += 1
            T_tip = rig.move_tool(T_target)
            if T_tip is None:
                skipped.append("unreachable")
                continue
            if eye_to_hand:
                rig.place_board(T_tip @ mount)
                image = rig.render(camera, None, rng, cfg.noise)
            else:
                image = rig.render(camera, T_tip @ mount, rng, cfg.noise)
            try:
                det = charuco.detect(image, K, None, cfg.board, cfg.detection, board=board)
            except charuco.NoBoard as exc:
                skipped.append(str(exc))
                continue
            samples.append(reported_sample(T_tip, det, cfg.robot_noise_mm, cfg.robot_noise_deg,
                                           rng))
    result = calibrate(samples, cfg.calibration_type, cfg.solver)
    dt, dr = transforms.difference(result.T, truth)
    intrinsics = CameraIntrinsics(camera.width, camera.height, tuple(K.reshape(-1)),
                                  "plumb_bob", (0.0,) * 5)
    return SimCalibrationReport(result, samples, truth, dt * 1000.0, math.degrees(dr),
                                attempted, intrinsics, skipped)


def sim_handeye_config(cfg: SimCalibrationConfig) -> HandEyeConfig:
    """The frames the simulator's calibration is between (for its result file)."""
    eye_to_hand = cfg.calibration_type == "eye_to_hand"
    optical = f"{cfg.camera}_color_optical_frame" if eye_to_hand else "hand_color_optical_frame"
    name = cfg.camera if eye_to_hand else "hand"
    return HandEyeConfig(setup=f"sim_{cfg.calibration_type}_{name}",
                         calibration_type=cfg.calibration_type, robot_base_frame=BASE_FRAME,
                         robot_effector_frame="tip_link", tracking_base_frame=optical,
                         camera_optical_frame=optical, board=cfg.board,
                         detection=cfg.detection, solver=cfg.solver)
