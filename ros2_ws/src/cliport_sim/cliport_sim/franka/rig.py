"""The Franka twin's camera rig: one RealSense D435-like camera at a calibrated pose.

The camera stands where the calibration file says (the hand-eye tool's format,
``cliport_handeye/1``), so a user's own calibration file puts the twin's camera where theirs
is. Frames come out as a RealSense on realsense2_camera delivers them: colour (rgb8) and
depth aligned to the colour camera as uint16 millimetres, 0 = no reading. The depth is
degraded like a stereo camera's (``docs/franka-twin.md``, "The camera rig"):

* noise: Gaussian along the optical axis, its standard deviation growing with depth squared
  (a stereo camera's depth error ~ z^2 / (focal length x baseline)), correlated between
  neighbouring pixels;
* holes: pixels near depth edges drop out with a probability, plus random speckle;
* quantised to whole millimetres; outside the camera's depth range the reading is 0.

``noise.level`` scales all of it: 0 gives the exact depth (still in millimetres, no holes).
Rendering is :func:`cliport_sim.cameras.render`, as for the other simulated cameras.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cliport_common.config import Check, ConfigError, config_path, load_config, load_yaml
from cliport_perception.calibration import load_calibration, pose_matrix
from cliport_perception.camera import CameraModel
from cliport_perception.rgbd import MM, RGBDFrame, depth_to_uint16
from cliport_perception.sources.calibration_file import resolve_file
from cliport_sim import cameras


@dataclass(frozen=True)
class DepthNoiseConfig:
    """How far the depth (and colour) stray from the exact render; ``level`` scales all."""

    level: float = 1.0  # 0 = exact depth (mm-quantised, no holes); 1 = a D435; 2 = twice that
    depth_sigma_at_1m: float = 0.0036  # depth std at 1 m (m); scales with depth^2
    # Neighbouring pixels' noise is correlated over a Gaussian of this std (px), as a stereo
    # matcher's window correlates it; 0 = independent pixels. The std per pixel stays as set.
    correlation_px: float = 2.0
    edge_threshold: float = 0.01  # a depth step larger than this (m) between neighbours = edge
    edge_width_px: int = 2  # pixels on either side of an edge that may drop out
    edge_dropout: float = 0.5  # probability that a pixel near an edge reads 0
    speckle_rate: float = 0.005  # probability that any pixel reads 0
    color_sigma: float = 3.0  # colour noise std (0-255 units)

    def __post_init__(self) -> None:
        check = Check(self, "rig.noise")
        check.non_negative("level", "depth_sigma_at_1m", "correlation_px", "edge_threshold",
                           "edge_width_px", "color_sigma")
        for name in ("edge_dropout", "speckle_rate"):
            check.within(name, 0.0, 1.0, note="a probability")

    def sigma(self, depth: np.ndarray | float) -> np.ndarray | float:
        """Depth noise std (m) at ``depth`` (m) for this level."""
        return self.level * self.depth_sigma_at_1m * np.square(depth)


@dataclass(frozen=True)
class RealSenseNames:
    """realsense2_camera's topic and frame names for one camera (namespace/name)."""

    color_image: str
    color_info: str
    depth_image: str  # aligned_depth_to_color: the colour camera's pixels and frame
    depth_info: str
    camera_link: str  # the driver's root frame (where the calibration's static TF ends)
    color_optical_frame: str  # header.frame_id of colour and aligned depth

    @classmethod
    def for_camera(cls, namespace: str, name: str) -> RealSenseNames:
        root = f"/{namespace}/{name}" if namespace else f"/{name}"
        return cls(f"{root}/color/image_raw", f"{root}/color/camera_info",
                   f"{root}/aligned_depth_to_color/image_raw",
                   f"{root}/aligned_depth_to_color/camera_info",
                   f"{name}_link", f"{name}_color_optical_frame")


@dataclass(frozen=True)
class RigConfig:
    """The twin's camera (``config/franka.yaml``, section ``rig``)."""

    model: str = "d435"  # the camera modelled: intrinsics and noise below are a D435's
    camera_namespace: str = "camera"  # realsense2_camera's camera_namespace
    camera_name: str = "camera"  # realsense2_camera's camera_name (also the frames' prefix)
    width: int = 640  # px of the colour and aligned depth images
    height: int = 480  # px
    # Colour intrinsics, row-major K. Square pixels and the principal point at the image
    # centre: the renderer's frustum is symmetric about it.
    intrinsics: tuple[float, ...] = (615.0, 0.0, 319.5, 0.0, 615.0, 239.5, 0.0, 0.0, 1.0)
    calibration_file: str = "calibration/franka_twin.yaml"  # where the camera stands
    fps: float = 30.0  # frame rate of the streams, in simulated time
    min_depth: float = 0.28  # nearer than this reads 0 (m)
    max_depth: float = 3.0  # farther than this reads 0 (m)
    noise: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)  # a stereo depth's flaws

    def __post_init__(self) -> None:
        check = Check(self, "rig")
        check.positive("width", "height", "fps")
        check.length("intrinsics", 9, "row-major K")
        fx, _, cx, _, fy, cy = self.intrinsics[:6]
        if not (fx > 0 and abs(fx - fy) < 1e-9 and abs(cx - (self.width - 1) / 2) < 1e-9
                and abs(cy - (self.height - 1) / 2) < 1e-9):
            raise ConfigError(f"rig.intrinsics {list(self.intrinsics)}: the renderer needs fx == "
                              f"fy > 0 and the principal point at ((w-1)/2, (h-1)/2) = "
                              f"({(self.width - 1) / 2}, {(self.height - 1) / 2})")
        if not 0.0 < self.min_depth < self.max_depth:
            raise ConfigError(f"rig depth range must have 0 < min_depth < max_depth, got "
                              f"{self.min_depth}..{self.max_depth}")

    @property
    def names(self) -> RealSenseNames:
        return RealSenseNames.for_camera(self.camera_namespace, self.camera_name)

    @property
    def perception_camera(self) -> str:
        """The entry for perception's ``cameras`` list (``{camera}`` in its topic patterns)."""
        return f"{self.camera_namespace}/{self.camera_name}".strip("/")


def load_rig_config(path: str | Path | None = None) -> RigConfig:
    return load_config(RigConfig, path or config_path("cliport_sim", "franka.yaml"), "rig")


@dataclass(frozen=True)
class RigPose:
    """The camera's placement, read from a hand-eye calibration file."""

    base_frame: str  # the calibration's parent frame: the arm's base
    T_base_link: np.ndarray  # camera_link in the base frame (the static TF)
    T_link_optical: np.ndarray  # the driver's camera_link -> colour optical frame
    link_frame: str
    optical_frame: str

    @property
    def T_base_optical(self) -> np.ndarray:
        return self.T_base_link @ self.T_link_optical


def read_rig_pose(path: str | Path) -> RigPose:
    """The camera pose in a ``cliport_handeye/1`` eye-to-hand file (perception's reader)."""
    path = resolve_file(str(path))
    calibration = load_calibration(path)  # checks the format and refuses eye-in-hand
    if len(calibration.extrinsics) != 1:
        raise ConfigError(f"{path}: the twin has one camera; the file calibrates "
                          f"{sorted(calibration.extrinsics)}")
    data = load_yaml(path)
    if "optical_in_child" not in data:
        raise ConfigError(f"{path}: not a hand-eye result file (no optical_in_child); the "
                          f"twin's camera needs the format cliport-handeye writes")
    optical = data["optical_in_child"]
    T_link_optical = pose_matrix(optical["translation"], optical["rotation_xyzw"])
    (frame, T_base_optical), = calibration.extrinsics.items()
    return RigPose(calibration.base_frame, T_base_optical @ np.linalg.inv(T_link_optical),
                   T_link_optical, str(data["child_frame"]), frame)


@dataclass(frozen=True)
class CameraInfoData:
    """The fields of a sensor_msgs/CameraInfo for the colour and aligned-depth streams."""

    width: int
    height: int
    k: tuple[float, ...]
    d: tuple[float, ...]
    p: tuple[float, ...]
    distortion_model: str
    frame_id: str


def _edges(d: np.ndarray, threshold: float, width_px: int) -> np.ndarray:
    """Pixels within ``width_px`` of a depth step larger than ``threshold``."""
    edge = np.zeros(d.shape, dtype=bool)
    if width_px == 0:
        return edge
    step_x = np.abs(np.diff(d, axis=1)) > threshold
    step_y = np.abs(np.diff(d, axis=0)) > threshold
    edge[:, 1:] |= step_x
    edge[:, :-1] |= step_x
    edge[1:, :] |= step_y
    edge[:-1, :] |= step_y
    if width_px > 1:
        edge = ndimage.binary_dilation(edge, iterations=width_px - 1)
    return edge


@functools.lru_cache(maxsize=8)
def _filtered_std(correlation_px: float) -> float:
    """Std of unit white noise after the Gaussian filter (its kernel's L2 norm)."""
    half = int(math.ceil(5 * correlation_px)) + 1
    delta = np.zeros((2 * half + 1, 2 * half + 1))
    delta[half, half] = 1.0
    return float(np.linalg.norm(ndimage.gaussian_filter(delta, correlation_px)))


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...], correlation_px: float
                ) -> np.ndarray:
    """Standard normal noise, spatially correlated over ``correlation_px`` (0 = white)."""
    n = rng.standard_normal(shape)
    if correlation_px <= 0.0:
        return n
    return ndimage.gaussian_filter(n, correlation_px) / _filtered_std(correlation_px)


def degrade_depth(depth: np.ndarray, config: RigConfig, rng: np.random.Generator | None
                  ) -> np.ndarray:
    """Exact depth (m, HxW) -> the camera's uint16 millimetres (0 = no reading)."""
    noise = config.noise
    d = depth.astype(np.float64)
    if noise.level > 0.0:
        if rng is None:
            raise ValueError("depth noise needs a random generator (or noise.level 0)")
        edge = _edges(d, noise.edge_threshold, noise.edge_width_px)
        d = d + _unit_noise(rng, d.shape, noise.correlation_px) * noise.sigma(d)
        holes = rng.random(d.shape) < min(1.0, noise.speckle_rate * noise.level)
        holes |= edge & (rng.random(d.shape) < min(1.0, noise.edge_dropout * noise.level))
        d[holes] = 0.0
    d[(d < config.min_depth) | (d > config.max_depth)] = 0.0
    return depth_to_uint16(d, MM)


class CameraRig:
    """Renders the twin's camera as realsense2_camera would deliver its frames."""

    def __init__(self, client: int, config: RigConfig | None = None,
                 calibration_file: str | Path | None = None) -> None:
        """``calibration_file`` overrides ``config.calibration_file`` (the camera's pose)."""
        self.client = client
        self.config = config or load_rig_config()
        self.pose = read_rig_pose(calibration_file or self.config.calibration_file)
        names = self.config.names
        if self.pose.optical_frame != names.color_optical_frame:
            raise ConfigError(f"the calibration is for {self.pose.optical_frame!r}, the rig's "
                              f"camera publishes {names.color_optical_frame!r} "
                              f"(camera_name {self.config.camera_name!r})")
        T = self.pose.T_base_optical
        euler = Rotation.from_matrix(T[:3, :3]).as_euler("xyz")  # PyBullet's order
        self.camera = cameras.CameraConfig(
            self.config.camera_name, self.config.width, self.config.height,
            tuple(self.config.intrinsics), tuple(float(v) for v in T[:3, 3]),
            tuple(float(v) for v in euler), znear=0.5 * self.config.min_depth,
            zfar=2.0 * self.config.max_depth)
        self.model = CameraModel.from_intrinsics_matrix(
            self.config.intrinsics, self.config.width, self.config.height, extrinsic=T,
            depth_scale=MM, frame_id=names.color_optical_frame)

    @property
    def names(self) -> RealSenseNames:
        return self.config.names

    @property
    def period_s(self) -> float:
        """Simulated seconds between frames."""
        return 1.0 / self.config.fps

    def camera_info(self) -> CameraInfoData:
        """CameraInfo of colour and aligned depth alike (aligned depth has the colour's K)."""
        fx, _, cx, _, fy, cy = self.config.intrinsics[:6]
        return CameraInfoData(self.config.width, self.config.height,
                              tuple(float(v) for v in self.config.intrinsics), (0.0,) * 5,
                              (fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0),
                              "plumb_bob", self.names.color_optical_frame)

    def render_frame(self, rng: np.random.Generator | None = None, stamp_ns: int = 0
                     ) -> RGBDFrame:
        """One frame: rgb8 colour and uint16 mm aligned depth, degraded at the noise level."""
        r = cameras.render(self.client, self.camera)
        color = r.color
        sigma = self.config.noise.color_sigma * self.config.noise.level
        if sigma > 0.0:
            if rng is None:
                raise ValueError("camera noise needs a random generator (or noise.level 0)")
            color = np.clip(color + np.rint(rng.normal(0.0, sigma, color.shape)), 0, 255)
            color = color.astype(np.uint8)
        return RGBDFrame(color, degrade_depth(r.depth, self.config, rng), self.model, stamp_ns)
