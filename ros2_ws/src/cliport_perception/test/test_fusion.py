"""Fusion against exact synthetic scenes, the reference algorithm and a slow oracle."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliport_perception.camera import CameraModel
from cliport_perception.fusion import Fuser, fuse, reference_fuse
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.synthetic import REFERENCE_K, Box, reference_cameras, render
from cliport_perception.workspace import Workspace

WS = Workspace()
BOXES = [Box((0.5, 0.1), (0.05, 0.05, 0.04)), Box((0.4, -0.2), (0.04, 0.06, 0.08), (20, 200, 20))]


def top_down_camera(fx=900.0):
    """A camera 1 m above the workspace centre looking straight down (x_opt = -y, y_opt = -x)."""
    T = np.eye(4)
    T[:3, :3] = [[0, -1, 0], [-1, 0, 0], [0, 0, -1]]
    T[:3, 3] = [0.5, 0.0, 1.0]
    return CameraModel(640, 480, fx, fx, 320.0, 240.0, T, frame_id="top")


def inner_cells(box: Box, shrink: float = 0.004):
    """Cells lying entirely inside the box's footprint (with a margin)."""
    (cx, cy), (sx, sy) = box.center_xy, box.size[:2]
    x0, y0 = cx - sx / 2 + shrink, cy - sy / 2 + shrink
    x1, y1 = cx + sx / 2 - shrink, cy + sy / 2 - shrink
    (u0, v0), (u1, v1) = WS.xy_to_pixel(x0, y0), WS.xy_to_pixel(x1, y1)
    return slice(u0 + 1, u1), slice(v0 + 1, v1)


@pytest.mark.parametrize("uint16", [False, True])
def test_top_down_view_gives_exact_heights_at_exact_cells(uint16):
    frame = render(top_down_camera(), BOXES, depth_uint16=uint16)
    maps = fuse([frame], WS)
    tol = 1e-3 if uint16 else 1e-5  # millimetre depth quantisation
    for box in BOXES:
        np.testing.assert_allclose(maps.heightmap[inner_cells(box)], box.size[2], atol=tol)
        assert (maps.colormap[inner_cells(box)] == box.color).all()
    # A table cell far from the boxes: seen, height 0, table colour.
    u, v = WS.xy_to_pixel(0.7, 0.3)
    assert maps.valid[u, v] and maps.heightmap[u, v] == pytest.approx(0.0, abs=tol)
    # The box edge lies between the right cells: just outside is table, just inside is box.
    box = BOXES[0]
    x_edge = box.center_xy[0] + box.size[0] / 2
    u, v_in = WS.xy_to_pixel(box.center_xy[0], box.center_xy[1])
    v_out = WS.xy_to_pixel(x_edge + 0.002, 0)[1]
    assert maps.heightmap[u, v_out] == pytest.approx(0.0, abs=tol)
    assert maps.heightmap[u, v_in] == pytest.approx(0.04, abs=tol)


@pytest.mark.parametrize("view", [0, 1, 2])
def test_each_reference_view_sees_the_box_tops(view):
    frame = render(reference_cameras()[view], BOXES)
    maps = fuse([frame], WS)
    for box in BOXES:
        cells = maps.heightmap[inner_cells(box)][maps.valid[inner_cells(box)]]
        assert cells.size > 0
        np.testing.assert_allclose(cells, box.size[2], atol=1e-5)


def test_fused_views_match_the_reference_exactly():
    frames = [render(c, BOXES) for c in reference_cameras()]
    maps = Fuser(WS).fuse(frames)
    ref_color, ref_height = reference_fuse(frames, WS)
    np.testing.assert_allclose(maps.heightmap, ref_height, atol=1e-6)
    np.testing.assert_array_equal(maps.colormap, ref_color)
    for box in BOXES:
        np.testing.assert_allclose(maps.heightmap[inner_cells(box)], box.size[2], atol=1e-5)
    # Table points sit at exactly z = z_min, where the reference's half-open crop keeps or
    # drops them by float rounding; box tops are always kept.
    for box in BOXES:
        assert maps.valid[inner_cells(box)].all()


def test_missing_depth_is_never_fused():
    frame = render(top_down_camera(), BOXES)
    depth = frame.depth.copy()
    depth[:, :320] = np.nan
    depth[:, 320:400] = np.inf
    depth[:, 400:420] = 0.0
    depth[:, 420:440] = -0.3
    maps = fuse([RGBDFrame(frame.color, depth, frame.camera)], WS)
    assert maps.valid.any() and not maps.valid.all()
    assert np.isfinite(maps.heightmap).all()
    assert maps.heightmap.max() <= 0.08 + 1e-5


def test_fuse_needs_frames():
    with pytest.raises(ValueError, match="at least one"):
        fuse([], WS)


def slow_fuse(frames, ws):
    """Per-point Python loop: the definition, written as plainly as possible."""
    rows, cols = ws.shape
    best = {}
    for frame in frames:
        cam = frame.camera
        depth, valid = frame.depth_metres()
        per_view = {}
        for py in range(cam.height):
            for px in range(cam.width):
                if not valid[py, px]:
                    continue
                d = float(depth[py, px])
                p = cam.extrinsic @ [(px - cam.cx) * d / cam.fx, (py - cam.cy) * d / cam.fy, d, 1]
                x, y, z = p[:3]
                if not (ws.x_min <= x < ws.x_max and ws.y_min <= y < ws.y_max
                        and ws.z_min <= z < ws.z_max):
                    continue
                cell = (min(math.floor((y - ws.y_min) / ws.pixel_size), rows - 1),
                        min(math.floor((x - ws.x_min) / ws.pixel_size), cols - 1))
                if cell not in per_view or z - ws.z_min > per_view[cell]:
                    per_view[cell] = z - ws.z_min
        for cell, h in per_view.items():
            best[cell] = max(best.get(cell, -1.0), h)
    return best


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_views=st.integers(1, 3))
def test_matches_a_slow_loop_on_random_depth(seed, n_views):
    rng = np.random.default_rng(seed)
    ws = Workspace(x_min=0.0, x_max=0.2, y_min=-0.1, y_max=0.1, z_min=0.0, z_max=0.1,
                   pixel_size=0.01)
    frames = []
    for _ in range(n_views):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        pos = rng.uniform([-0.1, -0.2, 0.2], [0.3, 0.2, 0.5])
        cam = CameraModel.from_pose(np.array(REFERENCE_K) / [20, 1, 20, 1, 20, 20, 1, 1, 1],
                                    32, 24, pos, q)
        depth = rng.uniform(0.0, 0.8, (24, 32)).astype(np.float32)
        depth[rng.random((24, 32)) < 0.1] = np.nan
        color = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        frames.append(RGBDFrame(color, depth, cam))
    maps = fuse(frames, ws)
    want = slow_fuse(frames, ws)
    assert set(zip(*np.nonzero(maps.valid), strict=True)) == set(want)
    for cell, h in want.items():
        assert maps.heightmap[cell] == pytest.approx(h, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), uint16=st.booleans())
def test_compiled_and_numpy_paths_agree(seed, uint16):
    rng = np.random.default_rng(seed)
    boxes = [Box((float(rng.uniform(0.3, 0.7)), float(rng.uniform(-0.4, 0.4))),
                 tuple(rng.uniform(0.02, 0.1, 3).tolist()),
                 tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(3)]
    cams = reference_cameras()[: int(rng.integers(1, 4))]
    frames = [render(c, boxes, depth_uint16=uint16) for c in cams]
    a, b = Fuser(WS, compiled=True).fuse(frames), Fuser(WS, compiled=False).fuse(frames)
    np.testing.assert_array_equal(a.heightmap, b.heightmap)
    np.testing.assert_array_equal(a.colormap, b.colormap)
    np.testing.assert_array_equal(a.views_per_cell, b.views_per_cell)


@pytest.mark.parametrize("compiled", [True, False])
def test_floor_tolerance_keeps_table_points_just_below_z_min(compiled):
    # The table 1 mm below z_min, as depth noise or float rounding puts it on a real rig.
    ws = Workspace(z_min=0.001)
    frame = render(top_down_camera(), [], depth_uint16=False)
    strict = Fuser(ws, compiled=compiled).fuse([frame])
    tolerant = Fuser(ws, compiled=compiled, floor_tolerance=0.002).fuse([frame])
    footprint = Fuser(Workspace(z_min=-0.001), compiled=compiled).fuse([frame]).valid
    assert strict.valid.sum() == 0 and footprint.mean() > 0.5
    np.testing.assert_array_equal(tolerant.valid, footprint)
    assert tolerant.heightmap[tolerant.valid].max() == 0.0  # clamped onto the table
    with pytest.raises(ValueError, match="floor_tolerance"):
        Fuser(ws, floor_tolerance=float("nan"))
