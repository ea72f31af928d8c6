"""The grasp-yaw convention end to end: a label's yaw -> the policy's pick bin -> the PickPlace
goal's quaternion -> the Franka twin's gripper yaw, within one bin (docs/design.md#grasp-yaw-bins).
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest
from builtin_interfaces.msg import Time

from cliport_common.poses import quat_from_yaw
from cliport_executor.config import load_executor_config
from cliport_executor.conversions import request_from_goal
from cliport_executor.franka.poses import tool_poses
from cliport_policy.data import pick_bin
from cliport_policy.poses import decision_poses, pick_bin_of_yaw, pick_yaw
from cliport_policy.ros.messages import pick_place_goal
from cliport_sim.franka import FrankaArm, load_franka_config

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
