"""The twin's RealSense: placed by its calibration file, realistic depth, fuses to true heights."""

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from cliport_common.config import ConfigError
from cliport_perception.calibration import load_calibration
from cliport_perception.fusion import Fuser
from cliport_perception.perception_config import PerceptionConfig
from cliport_sim import cameras
from cliport_sim.assets import asset_path
from cliport_sim.franka.config import load_franka_config
from cliport_sim.franka.rig import (
    CameraRig,
    RigConfig,
    degrade_depth,
    load_rig_config,
    read_rig_pose,
)

REPO = Path(__file__).resolve().parents[4]
TWIN_CALIBRATION = REPO / "calibration" / "franka_twin.yaml"
WS = load_franka_config().workspace  # the Franka workspace the twin's perception fuses into
BLOCK_XY = (0.52, -0.12)  # a 4 cm cube, on the table


@pytest.fixture(scope="module")
def scene():
    c = p.connect(p.DIRECT)
    cameras.load_egl(c)
    with cameras.quiet_stdout():
        p.loadURDF(str(asset_path("plane/plane.urdf")), (0, 0, -0.001), physicsClientId=c)
        p.loadURDF(str(asset_path("workspace/workspace.urdf")), (0.5, 0, 0), physicsClientId=c)
        p.loadURDF(str(asset_path("block/block.urdf")), (*BLOCK_XY, 0.02), physicsClientId=c)
    yield c
    cameras.release_egl(c)
    p.disconnect(c)


def rig_at(client, level: float) -> CameraRig:
    cfg = load_rig_config()
    return CameraRig(client, replace(cfg, noise=replace(cfg.noise, level=level)),
                     TWIN_CALIBRATION)


@pytest.fixture(scope="module")
def exact_depth(scene):
    return cameras.render(scene, rig_at(scene, 0.0).camera).depth.astype(np.float64)


def test_config_names_are_realsense2_cameras_and_bad_intrinsics_are_refused():
    cfg = load_rig_config()
    names = cfg.names
    assert names.color_image == "/camera/camera/color/image_raw"
    assert names.color_info == "/camera/camera/color/camera_info"
    assert names.depth_image == "/camera/camera/aligned_depth_to_color/image_raw"
    assert names.depth_info == "/camera/camera/aligned_depth_to_color/camera_info"
    assert (names.camera_link, names.color_optical_frame) == ("camera_link",
                                                               "camera_color_optical_frame")
    # perception's topic patterns, filled with the rig's camera, give the same topics
    perception = PerceptionConfig()
    assert perception.color_topic.format(camera=cfg.perception_camera) == names.color_image
    assert perception.depth_topic.format(camera=cfg.perception_camera) == names.depth_image
    assert perception.info_topic.format(camera=cfg.perception_camera) == names.depth_info
    assert (cfg.width, cfg.height) == (640, 480)
    with pytest.raises(ConfigError, match="principal point"):
        RigConfig(intrinsics=(615.0, 0, 320.0, 0, 615.0, 240.0, 0, 0, 1))
    with pytest.raises(ConfigError, match="probability"):
        replace(cfg.noise, speckle_rate=1.5)


def test_the_calibration_file_places_a_tripod_camera_over_the_whole_workspace(scene):
    rig = rig_at(scene, 1.0)
    T = rig.pose.T_base_optical
    # exactly perception's reading of the same file
    extrinsic = load_calibration(TWIN_CALIBRATION).extrinsic("camera_color_optical_frame")
    np.testing.assert_allclose(T, extrinsic, atol=1e-12)
    np.testing.assert_allclose(rig.model.extrinsic, extrinsic, atol=1e-12)
    assert rig.pose.base_frame == "fr3_link0" and rig.pose.link_frame == "camera_link"
    looking_down = math.degrees(math.asin(-T[2, 2]))
    assert 45.0 <= looking_down <= 60.0
    assert T[0, 3] > 0.9  # in front of the table, out of the arm's way
    # every corner of the workspace, on the table and 10 cm above it, is in the image
    R, t = T[:3, :3], T[:3, 3]
    K = np.asarray(rig.config.intrinsics).reshape(3, 3)
    for x, y, z in itertools.product((WS.x_min, WS.x_max), (WS.y_min, WS.y_max), (0.0, 0.1)):
        pc = R.T @ (np.array([x, y, z]) - t)
        u, v, w = K @ pc
        assert 20 <= u / w <= rig.config.width - 20 and 20 <= v / w <= rig.config.height - 20
        assert rig.config.min_depth < pc[2] < rig.config.max_depth
    info = rig.camera_info()
    assert info.frame_id == "camera_color_optical_frame" and info.k == rig.config.intrinsics


def test_level_zero_is_the_exact_depth_in_millimetres(scene, exact_depth):
    frame = rig_at(scene, 0.0).render_frame()
    assert frame.depth.dtype == np.uint16 and frame.depth.shape == (480, 640)
    assert frame.camera.frame_id == "camera_color_optical_frame"
    assert np.all(frame.depth > 0)
    err = frame.depth.astype(np.float64) * 0.001 - exact_depth
    assert np.abs(err).max() <= 0.0005 + 1e-9


def synthetic_depth() -> tuple[np.ndarray, np.ndarray]:
    """A table from 0.6 m to 1.2 m away with 24 boxes 5 cm nearer; and the boxes' outlines."""
    depth = np.repeat(np.linspace(0.6, 1.2, 480)[:, None], 640, axis=1)
    box = np.zeros(depth.shape, dtype=bool)
    for r, c in itertools.product(range(40, 440, 100), range(40, 640, 100)):
        box[r:r + 40, c:c + 40] = True
    depth[box] -= 0.05
    outline = box ^ np.roll(box, 1, 0) | box ^ np.roll(box, 1, 1)
    outline |= np.roll(outline, -1, 0) | np.roll(outline, -1, 1)
    return depth, outline


def test_noise_grows_with_depth_squared_and_holes_are_at_the_configured_level():
    cfg = load_rig_config()
    noise = cfg.noise
    depth, outline = synthetic_depth()
    near_outline = outline.copy()
    for dy, dx in itertools.product(range(-4, 5), repeat=2):
        near_outline |= np.roll(outline, (dy, dx), axis=(0, 1))
    flat = ~near_outline
    for level in (1.0, 2.0):
        mm = degrade_depth(depth, replace(cfg, noise=replace(noise, level=level)),
                           np.random.default_rng(int(level)))
        holes = mm == 0
        assert holes[flat].mean() == pytest.approx(noise.speckle_rate * level, rel=0.1)
        edge_rate = min(1.0, noise.edge_dropout * level)
        speckle = noise.speckle_rate * level
        assert holes[outline].mean() == pytest.approx(edge_rate + (1 - edge_rate) * speckle,
                                                      abs=0.02)
        ok = flat & ~holes
        residual = mm[ok] * 0.001 - depth[ok]
        normalised = residual / np.square(depth[ok])  # sigma / depth^2 is constant
        assert np.std(normalised) == pytest.approx(noise.depth_sigma_at_1m * level, rel=0.03)
        assert abs(np.mean(residual)) < 1e-4
        # neighbours' noise is correlated as configured
        err = np.where(ok, mm * 0.001 - depth, np.nan)
        pair = np.stack([err[:, :-1].ravel(), err[:, 1:].ravel()])
        pair = pair[:, ~np.isnan(pair).any(axis=0)]
        expect = math.exp(-1.0 / (4.0 * noise.correlation_px ** 2))  # a Gaussian-filtered field
        assert np.corrcoef(pair)[0, 1] == pytest.approx(expect, abs=0.05)
        far, near = ok & (depth > 1.1), ok & (depth < 0.7)
        ratio = np.std(mm[far] * 0.001 - depth[far]) / np.std(mm[near] * 0.001 - depth[near])
        assert ratio == pytest.approx(np.sqrt(np.mean(depth[far] ** 4)
                                              / np.mean(depth[near] ** 4)), rel=0.1)
    white = replace(cfg, noise=replace(noise, correlation_px=0.0))
    err = degrade_depth(depth, white, np.random.default_rng(3)) * 0.001 - depth
    ok = flat & (err > -0.5)
    assert abs(np.corrcoef(err[:, :-1][ok[:, :-1] & ok[:, 1:]],
                           err[:, 1:][ok[:, :-1] & ok[:, 1:]])[0, 1]) < 0.03


def test_one_noisy_frame_fuses_to_the_blocks_height_within_3_mm(scene):
    frame = rig_at(scene, 1.0).render_frame(np.random.default_rng(7))
    assert (frame.depth == 0).mean() > 0.004  # holes are on
    maps = Fuser(WS, floor_tolerance=0.01).fuse([frame])
    rows, cols = WS.shape
    u, v = np.mgrid[0:rows, 0:cols]
    x, y = WS.x_min + (v + 0.5) * WS.pixel_size, WS.y_min + (u + 0.5) * WS.pixel_size
    top = (np.abs(x - BLOCK_XY[0]) < 0.015) & (np.abs(y - BLOCK_XY[1]) < 0.015)
    seen_top = top & maps.valid
    assert seen_top.sum() > 0.8 * top.sum()
    assert abs(float(np.median(maps.heightmap[seen_top])) - 0.04) <= 0.003
    table = (np.abs(x - BLOCK_XY[0]) > 0.06) | (np.abs(y - BLOCK_XY[1]) > 0.06)
    assert abs(float(np.median(maps.heightmap[table & maps.valid]))) <= 0.003
    assert maps.valid[table].mean() > 0.85  # one camera, 1-2 depth points a cell


def test_files_that_cannot_place_the_camera_are_refused(scene):
    with pytest.raises(ConfigError, match="eye_to_hand"):
        read_rig_pose(REPO / "calibration" / "sim_eye_in_hand.yaml")
    with pytest.raises(ConfigError, match="camera_color_optical_frame"):
        CameraRig(scene, load_rig_config(), REPO / "calibration" / "sim_eye_to_hand_front.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        CameraRig(scene, load_rig_config(), REPO / "calibration" / "missing.yaml")
