"""Quaternion <-> yaw and the planar pose."""

from __future__ import annotations

import math

import pytest

from cliport_common.poses import SE2Pose, quat_from_yaw, yaw_of


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
