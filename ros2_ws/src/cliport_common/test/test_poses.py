"""Quaternion <-> yaw, the planar pose, heightmap cell -> position, Pose -> PoseStamped."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from cliport_common.poses import (
    SE2Pose,
    cell_position,
    place_z,
    pose_stamped,
    quat_from_yaw,
    yaw_of,
)


@pytest.mark.parametrize("yaw", [0.0, 0.3, -1.2, math.pi / 2, 3.0, -3.0])
def test_yaw_round_trips_through_a_unit_quaternion(yaw):
    q = quat_from_yaw(yaw)
    assert math.isclose(sum(v * v for v in q), 1.0)
    assert yaw_of(q) == pytest.approx(yaw)


def test_yaw_of_a_quarter_turn_about_z():
    s = math.sqrt(0.5)
    assert yaw_of((0.0, 0.0, s, s)) == pytest.approx(math.pi / 2)


def test_se2_pose_moves_in_z_and_knows_when_it_is_finite():
    pose = SE2Pose(0.5, 0.1, 0.02, 0.3)
    assert pose.at_z(0.2) == SE2Pose(0.5, 0.1, 0.2, 0.3)
    assert pose.is_finite()
    assert not SE2Pose(math.nan, 0.0, 0.0, 0.0).is_finite()
    assert not pose.at_z(math.inf).is_finite()


class _Grid:
    z_min, shape = -0.1, (4, 2)

    def in_grid(self, u, v):
        return 0 <= u < 4 and 0 <= v < 2

    def pixel_to_xy(self, u, v):
        return 0.5 + 0.01 * u, 0.01 * v


def test_cell_position_reads_the_height_and_an_unseen_cell_as_the_table():
    heightmap = np.zeros((4, 2), np.float32)
    heightmap[1, 1], heightmap[2, 0] = 0.04, np.nan
    assert cell_position(_Grid(), heightmap, 1, 1) == pytest.approx((0.51, 0.01, -0.06))
    assert cell_position(_Grid(), heightmap, 2, 0) == pytest.approx((0.52, 0.0, -0.1))
    with pytest.raises(ValueError, match=r"cell \(4, 0\) lies outside the grid \(4, 2\)"):
        cell_position(_Grid(), heightmap, 4, 0)


def test_cell_position_within_a_radius_reads_over_a_depth_hole():
    heightmap = np.zeros((4, 2), np.float32)
    heightmap[0:3, :] = 0.04  # a block's top ...
    heightmap[1, 0] = 0.0  # ... with a hole in it (fusion's "no reading")
    assert cell_position(_Grid(), heightmap, 1, 0)[2] == pytest.approx(-0.1)
    assert cell_position(_Grid(), heightmap, 1, 0, radius=1)[2] == pytest.approx(-0.06)
    heightmap[:] = np.nan  # nothing seen around it: the table
    assert cell_position(_Grid(), heightmap, 1, 0, radius=1)[2] == pytest.approx(-0.1)
    heightmap[:] = -0.01  # below z_min (noise): never below the table
    assert cell_position(_Grid(), heightmap, 3, 1, radius=1)[2] == pytest.approx(-0.1)


def test_place_z_adds_the_picked_height_above_the_table():
    assert place_z(0.005, 0.04, 0.0) == pytest.approx(0.045)  # a 4 cm block into a bowl
    assert place_z(0.005, -0.01, 0.0) == pytest.approx(0.005)  # nothing below the table


def test_pose_stamped_copies_the_stamp():
    stamp = Time(sec=5, nanosec=6)
    msg = pose_stamped(((1.0, 2.0, 3.0), (0.0, 0.0, 0.0, 1.0)), "base", stamp)
    stamp.sec = 99
    assert msg.header.stamp.sec == 5
    assert (msg.pose.position.z, msg.pose.orientation.w) == (3.0, 1.0)
