"""The default Franka workspace (config/franka.yaml) is reachable: every cell top-down at any
yaw in [-90, 90] deg, at grasp depth on the table and at the executor's travel height, with
the Panda's and the FR3's joint limits."""

from __future__ import annotations

import dataclasses
import math

import pybullet as p
import pytest

from cliport_executor.config import load_executor_config
from cliport_sim.franka import FrankaArm, load_franka_config

CONFIG = load_franka_config()
WS = CONFIG.workspace
TABLE_Z = (0.01, 0.02)  # TCP heights of a grasp on the table (grasp depth under a top)
EXTREME_YAWS = (-90.0, 90.0)
ALL_YAWS = (-90.0, -45.0, 0.0, 45.0, 90.0)
INTERIOR_STRIDE = 32  # every 32nd row and column inside the border
BORDER_STRIDE = 4  # every 4th border cell at the other yaws and at travel height


def samples(travel_z: float) -> list[tuple[int, int, float, float]]:
    """(row, column, z, yaw in deg): every border cell at the extreme yaws on the table,
    every 4th border cell at the other yaws and at travel height, the corners at every yaw
    and height, and every ``INTERIOR_STRIDE``-th interior cell at every yaw."""
    rows, cols = WS.shape
    border = sorted({(u, v) for u in range(rows) for v in (0, cols - 1)}
                    | {(u, v) for v in range(cols) for u in (0, rows - 1)})
    out = [(u, v, TABLE_Z[0], yaw) for u, v in border for yaw in EXTREME_YAWS]
    out += [(u, v, TABLE_Z[1], yaw) for u, v in border[::BORDER_STRIDE]
            for yaw in (-45.0, 0.0, 45.0)]
    out += [(u, v, travel_z, yaw) for u, v in border[BORDER_STRIDE // 2::BORDER_STRIDE]
            for yaw in (-90.0, 0.0, 90.0)]
    corners = [(0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1)]
    out += [(u, v, z, yaw) for u, v in corners for z in (*TABLE_Z, travel_z) for yaw in ALL_YAWS]
    interior = [(u, v) for u in range(INTERIOR_STRIDE // 2, rows, INTERIOR_STRIDE)
                for v in range(INTERIOR_STRIDE // 2, cols, INTERIOR_STRIDE)]
    out += [(u, v, z, yaw) for u, v in interior for z in (TABLE_Z[1], travel_z)
            for yaw in ALL_YAWS]
    return out


def test_the_grid_keeps_320_by_160_cells_of_2_mm():
    assert WS.shape == (320, 160)
    assert WS.pixel_size == pytest.approx(0.002)
    assert (WS.y_max - WS.y_min) == pytest.approx(2 * (WS.x_max - WS.x_min))


@pytest.mark.parametrize("model", ["panda", "fr3"])
def test_every_cell_is_reachable_top_down_at_any_yaw(model):
    travel_z = load_executor_config().motion.transfer_height
    client = p.connect(p.DIRECT)
    try:
        arm = FrankaArm(client, dataclasses.replace(CONFIG, model=model))
        unreachable = []
        for u, v, z, yaw in samples(travel_z):
            x, y = WS.pixel_to_xy(u, v)
            if arm.ik((x, y, z), math.radians(yaw)) is None:
                unreachable.append((u, v, z, yaw))
    finally:
        p.disconnect(client)
    assert unreachable == [], f"{len(unreachable)} unreachable, first: {unreachable[:5]}"
