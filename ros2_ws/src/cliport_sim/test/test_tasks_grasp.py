"""The parallel-gripper oracle's yaws: folded into [-90, 90) deg, across the right faces, and
turning the object onto its target."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from cliport_sim.tasks.grasp import fold, grasp_symmetry, pick_yaw, place_yaw

angles = st.floats(-4 * math.pi, 4 * math.pi, allow_nan=False)
sides = st.floats(0.02, 0.06)
EPS = 1e-9


def same_modulo(a: float, b: float, period: float, tol: float = 1e-7) -> bool:
    d = (a - b) % period
    return min(d, period - d) < tol


@given(angles, st.sampled_from([math.pi / 2, math.pi, 2 * math.pi]))
def test_fold_lands_in_the_half_open_interval_and_keeps_the_angle(a, period):
    f = fold(a, period)
    assert -period / 2 - EPS <= f < period / 2 + EPS
    assert same_modulo(f, a, period)


@given(angles, sides)
def test_a_cube_is_gripped_across_its_faces_within_45_deg(object_yaw, side):
    yaw = pick_yaw(object_yaw, (side, side))
    assert -math.pi / 4 - EPS <= yaw < math.pi / 4 + EPS
    assert same_modulo(yaw, object_yaw, math.pi / 2)


@given(angles, sides, sides)
def test_a_box_is_gripped_across_its_narrower_side(object_yaw, sx, sy):
    size = (sx, sy)
    yaw = pick_yaw(object_yaw, size)
    assert -math.pi / 2 - EPS <= yaw < math.pi / 2 + EPS
    if grasp_symmetry(size) == math.pi:  # not square: the fingers close along yaw - 90 deg
        narrow_axis = object_yaw if sx < sy else object_yaw + math.pi / 2
        assert same_modulo(yaw - math.pi / 2, narrow_axis, math.pi)


@given(angles, angles, sides, sides)
def test_the_place_turns_the_object_onto_its_target(object_yaw, target_yaw, sx, sy):
    size = (sx, sy)
    symmetry = grasp_symmetry(size)
    pick = pick_yaw(object_yaw, size)
    place = place_yaw(pick, object_yaw, target_yaw, symmetry)
    assert -math.pi / 2 - EPS <= place < math.pi / 2 + EPS
    # The object turns with the hand: it ends at its yaw plus the hand's turn.
    assert same_modulo(object_yaw + place - pick, target_yaw, symmetry)
