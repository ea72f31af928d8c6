"""Sim cameras: the oracle renders the exact grid; the three views fuse to true heights."""

import numpy as np
import pybullet as p
import pytest

from cliport_perception.fusion import Fuser
from cliport_perception.workspace import Workspace
from cliport_sim import cameras

WS = Workspace(z_max=0.3)
BOX_CENTER = (0.42, 0.17)
BOX_HALF = (0.03, 0.045, 0.05)


@pytest.fixture(scope="module")
def scene():
    c = p.connect(p.DIRECT)
    cameras.load_egl(c)
    table = p.createCollisionShape(p.GEOM_BOX, halfExtents=[1, 1, 0.01], physicsClientId=c)
    p.createMultiBody(0, table, basePosition=[0.5, 0, -0.01], physicsClientId=c)
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=BOX_HALF, physicsClientId=c)
    vis = p.createVisualShape(p.GEOM_BOX, halfExtents=BOX_HALF, rgbaColor=[1, 0, 0, 1],
                              physicsClientId=c)
    box = p.createMultiBody(0, col, vis, basePosition=[*BOX_CENTER, BOX_HALF[2]],
                            physicsClientId=c)
    yield c, box
    cameras.release_egl(c)
    p.disconnect(c)


def footprint_cells(ws: Workspace, shrink: float = 0.0):
    """Cells whose centre lies inside the box's footprint (shrunk by ``shrink``)."""
    rows, cols = ws.shape
    u = np.arange(rows)[:, None]
    v = np.arange(cols)[None, :]
    x = ws.x_min + (v + 0.5) * ws.pixel_size
    y = ws.y_min + (u + 0.5) * ws.pixel_size
    return ((np.abs(x - BOX_CENTER[0]) < BOX_HALF[0] - shrink)
            & (np.abs(y - BOX_CENTER[1]) < BOX_HALF[1] - shrink))


def test_oracle_pixels_are_the_workspace_cells(scene):
    c, box = scene
    maps = cameras.render_oracle(c, WS)
    assert maps.heightmap.shape == WS.shape and maps.colormap.shape == WS.shape + (3,)
    inside = footprint_cells(WS)
    np.testing.assert_array_equal(maps.segmentation == box, inside)
    assert np.abs(maps.heightmap[inside] - 2 * BOX_HALF[2]).max() < 1e-3
    assert np.abs(maps.heightmap[~inside]).max() < 1e-3


def test_three_views_fuse_to_the_box_height_at_the_right_cells(scene):
    c, _ = scene
    ws = Workspace()
    models = [cam.model() for cam in cameras.REALSENSE_D415]
    frames = [cameras.render_frame(c, cam, m)
              for cam, m in zip(cameras.REALSENSE_D415, models, strict=True)]
    assert [f.camera.frame_id for f in frames] == ["front_color_optical_frame",
                                                    "left_color_optical_frame",
                                                    "right_color_optical_frame"]
    maps = Fuser(ws, floor_tolerance=0.002).fuse(frames)
    inner = footprint_cells(ws, shrink=2 * ws.pixel_size)
    top = maps.heightmap[inner]
    assert np.abs(top - 2 * BOX_HALF[2]).max() < 0.002  # +-2 mm, every inner cell
    # The table around the box reads 0 where seen, and almost every cell is seen.
    outside = ~footprint_cells(ws, shrink=-0.01) & maps.valid
    assert np.abs(maps.heightmap[outside]).max() < 0.002
    assert maps.valid.mean() > 0.95
    assert (maps.colormap[inner][:, 0] > 150).all()  # red top


def test_camera_noise_needs_a_generator_and_changes_the_images(scene):
    c, _ = scene
    cam = cameras.REALSENSE_D415[0]
    with pytest.raises(ValueError, match="generator"):
        cameras.render(c, cam, noise=True)
    clean = cameras.render(c, cam)
    noisy = cameras.render(c, cam, noise=True, rng=np.random.default_rng(0))
    assert 0.001 < np.abs(noisy.depth - clean.depth).mean() < 0.005
