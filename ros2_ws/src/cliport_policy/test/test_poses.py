"""The grasp-yaw convention end to end: a label's yaw -> the policy's pick bin -> the PickPlace
goal's quaternion -> the Franka twin's gripper yaw, within one bin (docs/design.md#grasp-yaw-bins).
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest
from builtin_interfaces.msg import Time
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_executor.config import load_executor_config
from cliport_executor.conversions import request_from_goal
from cliport_executor.franka.poses import tool_poses
from cliport_perception.workspace import Workspace
from cliport_policy.data import pick_bin
from cliport_policy.poses import SURFACE_RADIUS_M, decision_poses, pick_bin_of_yaw, pick_yaw
from cliport_policy.ros.messages import pick_place_goal
from cliport_sim.franka import FrankaArm, load_franka_config
from cliport_sim.labels import action_labels

FRANKA = load_franka_config()
WS = FRANKA.workspace


def fold_pi(a: float) -> float:
    """``a`` folded by half a turn into [-pi/2, pi/2): a parallel gripper's grasp yaw."""
    return (a + math.pi / 2) % math.pi - math.pi / 2


@pytest.fixture(scope="module")
def arm():
    client = p.connect(p.DIRECT)
    yield FrankaArm(client, FRANKA)
    p.disconnect(physicsClientId=client)


@pytest.mark.parametrize("k", [8, 12, 36])
def test_pick_bins_cover_half_a_turn(k):
    width = math.pi / k
    yaws = [pick_yaw(b, k) for b in range(k)]
    assert all(-math.pi / 2 <= y < math.pi / 2 for y in yaws)
    assert sorted(round(fold_pi(y) / width) % k for y in yaws) == list(range(k))
    for b in range(k):
        assert pick_bin_of_yaw(pick_yaw(b, k), k) == b
        assert pick_bin_of_yaw(pick_yaw(b, k) + math.pi, k) == b  # the same grasp
    assert pick_yaw(0, 1) == 0.0  # suction: no yaw


@pytest.mark.parametrize("k", [8, 12])
def test_a_labelled_grasp_yaw_reaches_the_twins_gripper_within_one_bin(arm, k):
    """Labels as the twin's oracle stores them (yaws in [-90, 90] deg, anywhere in the
    workspace) -> pick bin (data.pick_bin) -> decision_poses -> the PickPlace goal message
    -> the executor's decoding and gripper fold -> the twin arm's IK -> its TCP yaw."""
    executor = load_executor_config()
    rng = np.random.default_rng(0)
    heightmap = np.full(WS.shape, 0.04, np.float32)
    half_bin = math.pi / k / 2
    for deg in np.linspace(-90.0, 90.0, 25):
        yaw = math.radians(float(deg))
        u, v = int(rng.integers(10, WS.shape[0] - 10)), int(rng.integers(10, WS.shape[1] - 10))
        x, y = WS.pixel_to_xy(u, v)
        step = {"pose0": np.array([x, y, 0.04, *quat_from_yaw(yaw)])}
        bin_ = pick_bin(step, k)
        pick, place = decision_poses(WS, heightmap, (u, v, bin_), (160, 80, 0), k, 12)
        goal = pick_place_goal("put the block in the bowl", pick, place, "fr3_link0", Time(),
                               1.0)
        request = request_from_goal(goal, executor.max_tilt)
        tcp, _ = tool_poses(request.pick, request.place, executor.moveit)
        joints = arm.ik((tcp.x, tcp.y, tcp.z + 0.05), tcp.yaw)
        assert joints is not None, f"no IK at yaw {deg:.1f} deg"
        arm.reset(joints)
        xyz, gripper_yaw = arm.tcp_pose()
        assert np.hypot(xyz[0] - x, xyz[1] - y) < 1e-3
        assert abs(fold_pi(gripper_yaw - yaw)) <= half_bin + math.radians(0.5), (
            f"label {deg:.1f} deg -> bin {bin_} -> gripper {math.degrees(gripper_yaw):.1f} deg")


def test_the_place_turns_the_object_as_the_place_bin_says():
    heightmap = np.zeros(WS.shape, np.float32)
    for pick_bin_, place_bin in ((0, 0), (3, 2), (11, 7)):
        pick, place = decision_poses(WS, heightmap, (50, 50, pick_bin_), (200, 100, place_bin),
                                     12, 36)
        turn = math.atan2(place[1][2], place[1][3]) * 2 - math.atan2(pick[1][2], pick[1][3]) * 2
        want = -2 * math.pi * place_bin / 36
        assert abs((turn - want + math.pi) % (2 * math.pi) - math.pi) < 1e-9


# ------------------------------------------------------ action labels <-> poses, the one pair
REF = Workspace()  # the reference's 320 x 160 grid


def test_labels_reference_example():
    pose0 = ((0.25 + 10.5 * 0.003125, -0.5 + 20.5 * 0.003125, 0.02), (0, 0, 0, 1))
    pose1 = ((0.6, 0.1, 0.05), quat_from_yaw(math.radians(30)))
    labels = action_labels(pose0, pose1, REF)
    assert labels.pick_pix == (20, 10) and labels.pick_rot == 0
    assert labels.place_rot == 33  # theta1 = -30 deg -> bin -3 mod 36
    p0, p1 = decision_poses(REF, np.zeros(REF.shape, np.float32), (*labels.pick_pix, 0),
                            (*labels.place_pix, labels.place_rot))
    assert p0[0][:2] == pytest.approx(pose0[0][:2])
    assert math.degrees(yaw_of(p1[1])) == pytest.approx(30.0)


def test_labels_refuse_what_is_off_the_grid_or_not_a_pose():
    with pytest.raises(ValueError, match="outside the workspace grid"):
        action_labels(((0.8, 0, 0), (0, 0, 0, 1)), ((0.5, 0, 0), (0, 0, 0, 1)), REF)
    with pytest.raises(ValueError, match="a pose needs 7 finite numbers"):
        action_labels((0.5, 0.0, 0.0), ((0.5, 0, 0), (0, 0, 0, 1)), REF)
    with pytest.raises(ValueError, match="place rotation bin 36"):
        decision_poses(REF, np.zeros(REF.shape, np.float32), (0, 0, 0), (0, 0, 36))


@settings(max_examples=200, deadline=None)
@given(st.floats(0.25, 0.7499), st.floats(-0.5, 0.4999), st.floats(0.25, 0.7499),
       st.floats(-0.5, 0.4999), st.floats(-math.pi, math.pi), st.floats(-math.pi, math.pi),
       st.floats(0.0, 0.2), st.floats(0.0, 0.2))
def test_labels_round_trip(x0, y0, x1, y1, yaw0, yaw1, h0, h1):
    pose0 = ((x0, y0, 0.0), quat_from_yaw(yaw0))
    pose1 = ((x1, y1, 0.0), quat_from_yaw(yaw1))
    labels = action_labels(pose0, pose1, REF)
    # cells farther apart than the height window (SURFACE_RADIUS_M), so each reads its own
    assume(max(abs(a - b) for a, b in zip(labels.pick_pix, labels.place_pix, strict=True))
           > round(SURFACE_RADIUS_M / REF.pixel_size))
    heightmap = np.zeros(REF.shape, np.float32)
    heightmap[labels.pick_pix], heightmap[labels.place_pix] = h0, h1
    back0, back1 = decision_poses(REF, heightmap, (*labels.pick_pix, labels.pick_rot),
                                  (*labels.place_pix, labels.place_rot))
    assert action_labels(back0, back1, REF) == labels
    half = REF.pixel_size / 2 + 1e-9
    for (x, y), back in (((x0, y0), back0), ((x1, y1), back1)):
        assert abs(back[0][0] - x) <= half and abs(back[0][1] - y) <= half  # same cell
    # The place yaw comes back relative to the pick yaw, within half a 10-degree bin.
    err = math.remainder(yaw_of(back1[1]) - (yaw1 - yaw0), 2 * math.pi)
    assert abs(err) <= math.radians(5) + 1e-9
    # The z rule: the pick on the surface it picks from; the place that surface's height
    # above the place cell's surface.
    h0, h1 = float(np.float32(h0)), float(np.float32(h1))
    assert back0[0][2] == pytest.approx(REF.z_min + h0)
    assert back1[0][2] == pytest.approx(REF.z_min + h1 + h0)
