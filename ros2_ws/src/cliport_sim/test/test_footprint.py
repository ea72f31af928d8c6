"""Footprints on the grid and the placement that uses them."""

import math

import numpy as np
from scipy import ndimage

from cliport_common.poses import quat_from_yaw
from cliport_perception.workspace import Workspace
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.footprint import box_corners, convex_hull_2d, rasterize_convex
from cliport_sim.geometry import matrix
from cliport_sim.tasks import make_task

WS = Workspace()


def test_hull_of_box_corners_is_the_rotated_rectangle():
    T = matrix(((0.5, 0.0, 0.02), quat_from_yaw(math.pi / 4)))
    hull = convex_hull_2d(box_corners((-0.02, -0.02, -0.02), (0.02, 0.02, 0.02), T)[:, :2])
    assert len(hull) == 4
    assert np.allclose(sorted(np.hypot(*(hull - [0.5, 0.0]).T)), [0.02 * math.sqrt(2)] * 4)


def test_rasterize_marks_exactly_the_cells_whose_centres_are_inside():
    mask = np.zeros(WS.shape, bool)
    # x in [0.40, 0.44], y in [0.10, 0.13]: centres inside -> columns 48..60, rows 192..201
    rasterize_convex(mask, np.array([[0.40, 0.10], [0.44, 0.10], [0.44, 0.13], [0.40, 0.13]]),
                     WS)
    u, v = np.nonzero(mask)
    s = WS.pixel_size
    assert (u.min(), u.max()) == (math.ceil((0.10 + 0.5) / s - 0.5),
                                  math.floor((0.13 + 0.5) / s - 0.5))
    assert (v.min(), v.max()) == (math.ceil((0.40 - 0.25) / s - 0.5),
                                  math.floor((0.44 - 0.25) / s - 0.5))
    assert mask.sum() == (u.max() - u.min() + 1) * (v.max() - v.min() + 1)
    outside = np.zeros(WS.shape, bool)
    rasterize_convex(outside, np.array([[2.0, 2.0], [2.1, 2.0], [2.0, 2.1]]), WS)
    assert not outside.any()


def test_placed_objects_never_overlap_and_cover_the_oracle_silhouettes():
    with Environment(make_task("put-block-in-bowl-seen-colors"), SimConfig(observe=False)) as env:
        for seed in (0, 2, 4):
            env.reset(seed)
            bodies = [b for ids in env.obj_ids.values() for b in ids]
            seg = env.oracle_maps().segmentation
            total = np.zeros(WS.shape, int)
            for body in bodies:
                own = np.zeros(WS.shape, bool)
                lo, hi = env.local_box(body)
                corners = box_corners(lo, hi, matrix(env.pose(body)))
                rasterize_convex(own, corners[:, :2], WS)
                total += own
                # the rendered silhouette lies inside the footprint (up to boundary cells
                # that the renderer and the rasteriser round differently)
                grown = ndimage.binary_dilation(own)
                assert (grown | (seg != body)).all(), f"seed {seed} body {body}"
            assert total.max() == 1, f"seed {seed}: footprints overlap"
