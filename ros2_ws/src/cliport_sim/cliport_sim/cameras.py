"""Simulated cameras: the three RealSense-like views, the oracle, and rendering.

Rendering returns perception's :class:`~cliport_perception.rgbd.RGBDFrame`, so the
simulator is one more RGB-D source and the same fusion code builds the heightmaps for
demos, evaluation and the ROS sim loop (docs/design.md#camera-rendering for the projection and the
z-buffer -> depth conversion).

The oracle camera is the reference's near-orthographic top-down camera (docs/design.md#sim-cameras),
but rendered at exactly the workspace grid: one pixel per heightmap cell, pixel centres on
cell centres. Its depth, colour and segmentation *are* the oracle heightmap, colormap and
object mask without a fusion step, and at 160x320 it costs a fraction of a 640x480 render.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import pybullet as p

from cliport_perception.camera import CameraModel
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.workspace import Workspace
from cliport_sim.geometry import quat_from_euler

REALSENSE_K = (450.0, 0.0, 320.0, 0.0, 450.0, 240.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class CameraConfig:
    """A pinhole camera: image size, intrinsics, pose (PyBullet euler) and depth range."""

    name: str
    width: int
    height: int
    intrinsics: tuple[float, ...]  # fx, 0, cx, 0, fy, cy, 0, 0, 1
    position: tuple[float, float, float]
    euler: tuple[float, float, float]  # PyBullet getQuaternionFromEuler order
    znear: float = 0.01
    zfar: float = 10.0

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        return quat_from_euler(*self.euler)

    @property
    def frame_id(self) -> str:
        return f"{self.name}_color_optical_frame"

    def model(self) -> CameraModel:
        """Perception's camera model (optical -> base extrinsic; depth in metres)."""
        return CameraModel.from_pose(self.intrinsics, self.width, self.height, self.position,
                                     self.quaternion, frame_id=self.frame_id)


REALSENSE_D415 = (
    CameraConfig("front", 640, 480, REALSENSE_K, (1.0, 0.0, 0.75),
                 (math.pi / 4, math.pi, -math.pi / 2)),
    CameraConfig("left", 640, 480, REALSENSE_K, (0.0, 0.5, 0.75),
                 (math.pi / 4.5, math.pi, math.pi / 4)),
    CameraConfig("right", 640, 480, REALSENSE_K, (0.0, -0.5, 0.75),
                 (math.pi / 4.5, math.pi, 3 * math.pi / 4)),
)

ORACLE_DISTANCE = 1000.0


def oracle_camera(ws: Workspace) -> CameraConfig:
    """Near-orthographic top-down camera whose pixels are the workspace cells.

    With the reference's orientation (euler 0, pi, -pi/2) image rows run along world +x
    and columns along +y, so the image is ``cols x rows`` of the grid and is transposed
    after rendering. Focal length = distance / pixel_size makes one pixel one cell.
    """
    rows, cols = ws.shape
    f = ORACLE_DISTANCE / ws.pixel_size
    cx_world = (ws.x_min + ws.x_max) / 2.0
    cy_world = (ws.y_min + ws.y_max) / 2.0
    return CameraConfig("oracle", rows, cols, (f, 0.0, rows / 2.0, 0.0, f, cols / 2.0, 0, 0, 1),
                        (cx_world, cy_world, ORACLE_DISTANCE), (0.0, math.pi, -math.pi / 2),
                        znear=ORACLE_DISTANCE - 0.3 - 0.05, zfar=ORACLE_DISTANCE + 1.0)


@dataclass
class RenderResult:
    color: np.ndarray  # HxWx3 uint8
    depth: np.ndarray  # HxW float32 metres along the optical axis
    segmentation: np.ndarray  # HxW int32 body unique id (-1 = nothing)


def _view_projection(cam: CameraConfig) -> tuple[list[float], list[float]]:
    R = np.asarray(p.getMatrixFromQuaternion(cam.quaternion)).reshape(3, 3)
    look = R @ np.array([0.0, 0.0, 1.0])
    up = R @ np.array([0.0, -1.0, 0.0])
    eye = np.asarray(cam.position, dtype=np.float64)
    view = p.computeViewMatrix(eye.tolist(), (eye + look).tolist(), up.tolist())
    fy = cam.intrinsics[4]
    fov = math.degrees(2.0 * math.atan((cam.height / 2.0) / fy))
    proj = p.computeProjectionMatrixFOV(fov, cam.width / cam.height, cam.znear, cam.zfar)
    return view, proj


def render(client: int, cam: CameraConfig, *, segmentation: bool = False,
           rng: np.random.Generator | None = None, noise: bool = False,
           shadow: bool = True) -> RenderResult:
    """Render one camera (OpenCV optical convention, docs/design.md#camera-rendering)."""
    view, proj = _view_projection(cam)
    flags = 0 if segmentation else p.ER_NO_SEGMENTATION_MASK
    with quiet_stdout():  # the EGL plugin prints its GL vendor when it (re)makes a context
        _, _, rgba, zbuf, seg = p.getCameraImage(
            cam.width, cam.height, viewMatrix=view, projectionMatrix=proj, shadow=int(shadow),
            flags=flags, renderer=p.ER_BULLET_HARDWARE_OPENGL, physicsClientId=client)
    color = np.asarray(rgba, dtype=np.uint8).reshape(cam.height, cam.width, 4)[..., :3].copy()
    b = np.asarray(zbuf, dtype=np.float64).reshape(cam.height, cam.width)
    near, far = cam.znear, cam.zfar
    depth = 2.0 * near * far / (far + near - (2.0 * b - 1.0) * (far - near))
    if noise:
        if rng is None:
            raise ValueError("camera noise needs the episode's random generator")
        color = np.clip(color + rng.normal(0.0, 3.0, color.shape).round(), 0, 255)
        color = color.astype(np.uint8)
        depth = depth + rng.normal(0.0, 0.003, depth.shape)
    seg_img = (np.asarray(seg, dtype=np.int32).reshape(cam.height, cam.width) if segmentation
               else np.full((cam.height, cam.width), -1, dtype=np.int32))
    return RenderResult(color, depth.astype(np.float32), seg_img)


def render_frame(client: int, cam: CameraConfig, model: CameraModel | None = None, *,
                 stamp_ns: int = 0, rng: np.random.Generator | None = None,
                 noise: bool = False) -> RGBDFrame:
    """One camera as perception's RGB-D frame (float32 metres)."""
    r = render(client, cam, rng=rng, noise=noise)
    return RGBDFrame(r.color, r.depth, model or cam.model(), stamp_ns)


@dataclass
class OracleMaps:
    """Exact top-down maps on the workspace grid (rows x cols)."""

    colormap: np.ndarray  # uint8 rows x cols x 3
    heightmap: np.ndarray  # float32 metres above ws.z_min
    segmentation: np.ndarray  # int32 body ids, -1 where nothing


def render_oracle(client: int, ws: Workspace, cam: CameraConfig | None = None, *,
                  segmentation: bool = True, shadow: bool = False) -> OracleMaps:
    """Exact top-down maps of the grid; heights above ``ws.z_max`` are clipped to it.

    The oracle reads depth and segmentation and renders without the shadow pass (~3x
    faster); the orthographic *observation* mode renders with shadows and no mask.
    """
    cam = cam or oracle_camera(ws)
    r = render(client, cam, segmentation=segmentation, shadow=shadow)
    height = np.clip((ORACLE_DISTANCE - r.depth.astype(np.float64)) - ws.z_min, 0.0,
                     ws.z_max - ws.z_min)
    return OracleMaps(np.ascontiguousarray(r.color.transpose(1, 0, 2)),
                      np.ascontiguousarray(height.T.astype(np.float32)),
                      np.ascontiguousarray(r.segmentation.T))


_egl_client: int | None = None  # the one client in this process using the EGL plugin


def load_egl(client: int) -> bool:
    """Load PyBullet's EGL renderer plugin (headless OpenGL, Mesa on a CPU) if available.

    Returns False (TinyRenderer stays in use) when the plugin or the EGL libraries are
    missing, or when another live client of this process already uses it: the plugin's
    EGL context is process-wide, and disconnecting a second EGL client destroys it under
    the first (whose renders then come back empty). Both renderers give the same depth
    and segmentation; EGL is ~2x faster. Call :func:`release_egl` before disconnecting.
    """
    global _egl_client
    if _egl_client is not None:
        if p.getConnectionInfo(_egl_client)["isConnected"]:
            return False
        _egl_client = None
    spec = importlib.util.find_spec("eglRenderer")
    if spec is None or spec.origin is None:
        return False
    _load_triton_first()
    with quiet_stdout():  # the plugin prints its GL banner from C
        plugin = p.loadPlugin(spec.origin, "_eglRendererPlugin", physicsClientId=client)
    if plugin < 0:
        return False
    _egl_client = client
    return True


def _load_triton_first() -> None:
    """Import triton (torch's GPU compiler, when installed) before Mesa's LLVM is loaded.

    Both bundle LLVM. Once the EGL plugin has pulled in Mesa's llvmpipe, a later ``import
    triton`` - which ``import torchvision`` / ``open_clip`` trigger through torch._dynamo -
    segfaults the process (seen: a policy created after a simulator in one process). Loaded
    in the other order both work.
    """
    if importlib.util.find_spec("triton") is not None:
        with contextlib.suppress(Exception):
            importlib.import_module("triton")


def release_egl(client: int) -> None:
    """Forget ``client`` as this process's EGL user (call before disconnecting it)."""
    global _egl_client
    if _egl_client == client:
        _egl_client = None


_libc = ctypes.CDLL(None)


@contextlib.contextmanager
def quiet_stdout():
    """Send file descriptor 1 to /dev/null for the block (C-level prints included).

    Process-wide: another thread printing to stdout meanwhile is silenced too (ROS logs
    go to stderr, so nodes are unaffected).
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        _libc.fflush(None)  # C stdio buffers what it printed; drop it before restoring
        os.dup2(saved, 1)
        os.close(saved)
