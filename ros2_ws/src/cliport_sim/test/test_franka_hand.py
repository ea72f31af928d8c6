"""The Franka Hand on the twin: physical finger grasps with franka_gripper's semantics (move,
grasp with width / speed / force / epsilon, homing), holding a block while the arm lifts."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from cliport_sim.assets import asset_path
from cliport_sim.franka import FrankaArm, load_franka_config

CONFIG = load_franka_config()
BLOCK = (0.5, 0.1, 0.02)  # a 4 cm block (cliport_sim's, 0.1 kg) on the table
BLOCK_YAW = 0.3


@pytest.fixture
def scene(client):
    arm = FrankaArm(client, CONFIG)
    block = p.loadURDF(str(asset_path("block/block.urdf")), BLOCK,
                       p.getQuaternionFromEuler((0, 0, BLOCK_YAW)), physicsClientId=client)
    return arm, block


def over_block(arm: FrankaArm, tcp_z: float) -> None:
    """Fingers straddling the block's faces, the TCP at ``tcp_z``."""
    assert arm.move_pose((BLOCK[0], BLOCK[1], 0.15), BLOCK_YAW, 0.5)
    assert arm.move_linear((BLOCK[0], BLOCK[1], tcp_z), BLOCK_YAW, 0.2)


def test_grasp_holds_a_4cm_block_through_a_10cm_lift(client, scene):
    arm, block = scene
    over_block(arm, 0.025)
    assert arm.hand.grasp(0.04, 0.05, 20.0)
    assert arm.hand.width() == pytest.approx(0.04, abs=0.002)
    assert arm.move_linear((BLOCK[0], BLOCK[1], 0.125), BLOCK_YAW, 0.2)
    for _ in range(CONFIG.hz // 2):  # and it stays there
        arm.step()
    pos, quat = p.getBasePositionAndOrientation(block, physicsClientId=client)
    assert pos[2] == pytest.approx(0.12, abs=0.003)  # lifted 10 cm with the TCP
    # still between the fingers: centred on the TCP in the hand's frame
    T = arm.tcp_transform()
    local = T[:3, :3].T @ (np.asarray(pos) - T[:3, 3])
    assert abs(local[0]) < 0.005 and abs(local[1]) < 0.003
    assert arm.hand.width() == pytest.approx(0.04, abs=0.002)
    assert p.getEulerFromQuaternion(quat)[2] == pytest.approx(BLOCK_YAW, abs=math.radians(2))


def test_grasp_on_nothing_fails_with_the_fingers_closed(scene):
    arm, _ = scene
    assert arm.move_pose((0.4, -0.2, 0.1), 0.0, 0.5)
    assert not arm.hand.grasp(0.04, 0.05, 20.0)
    assert arm.hand.width() < 0.002


def test_grasp_checks_the_width_against_epsilon(scene):
    arm, _ = scene
    over_block(arm, 0.025)
    # the block is 4 cm: asking for 6 cm +- 5 mm fails although the fingers hold it
    assert not arm.hand.grasp(0.06, 0.05, 20.0, epsilon_inner=0.005, epsilon_outer=0.005)
    assert arm.hand.width() == pytest.approx(0.04, abs=0.002)
    assert arm.hand.move(0.08, 0.1)
    assert arm.hand.grasp(0.05, 0.05, 20.0, epsilon_inner=0.015, epsilon_outer=0.005)


def test_move_and_homing(scene):
    arm, _ = scene
    assert arm.hand.move(0.02, 0.1)
    assert arm.hand.width() == pytest.approx(0.02, abs=0.001)
    assert arm.hand.homing()
    assert arm.hand.width() == pytest.approx(0.08, abs=0.001)


def test_a_move_blocked_by_the_block_fails(scene):
    arm, _ = scene
    over_block(arm, 0.025)
    assert not arm.hand.move(0.0, 0.05)  # closing on the block: the width is never reached
    assert arm.hand.width() == pytest.approx(0.04, abs=0.002)


def test_bad_gripper_goals_are_refused(scene):
    arm, _ = scene
    with pytest.raises(ValueError, match="width"):
        arm.hand.move(0.1, 0.05)
    with pytest.raises(ValueError, match="speed"):
        arm.hand.move(0.04, 0.0)
    with pytest.raises(ValueError, match="force"):
        arm.hand.grasp(0.04, 0.05, 200.0)


def test_stop_aborts_a_grasp_in_flight_and_the_fingers_hold(client):
    state = {"steps": 0, "stop_at": None}

    def step():
        p.stepSimulation(physicsClientId=client)
        state["steps"] += 1
        if state["steps"] == state["stop_at"]:
            arm.hand.stop()  # as a cancel would, between two physics steps

    arm = FrankaArm(client, CONFIG, step=step)
    state["stop_at"] = state["steps"] + 40  # 1/6 s into the grasp, fingers still closing
    assert not arm.hand.grasp(0.04, 0.05, 20.0)
    width = arm.hand.width()
    assert 0.05 < width < 0.078
    for _ in range(CONFIG.hz // 4):
        arm.step()
    assert arm.hand.width() == pytest.approx(width, abs=0.002)


def finger_positions(arm: FrankaArm) -> tuple[float, float]:
    states = p.getJointStates(arm.body, arm.hand.finger_ids, physicsClientId=arm.client)
    return states[0][0], states[1][0]


def test_a_finger_blocked_by_a_bowl_stops_both_and_the_hand_opens_once_clear(client):
    arm = FrankaArm(client, CONFIG)
    p.loadURDF(str(asset_path("bowl/bowl.urdf")), (0.5, 0.0, 0.0), useFixedBase=True,
               physicsClientId=client)
    assert arm.hand.move(0.04, 0.05)
    # 8 mm off the bowl's centre along the closing axis, fingertips 15 mm above its floor
    yaw = 0.3
    x, y = 0.5 - 0.008 * math.sin(yaw), 0.008 * math.cos(yaw)
    assert arm.move_pose((x, y, 0.15), yaw, 0.5)
    assert arm.move_linear((x, y, 0.025), yaw, 0.2)
    assert not arm.hand.move(0.08, 0.05)  # one finger meets the wall: both stop (one drive)
    first, second = finger_positions(arm)
    assert arm.hand.width() < 0.06 and first == pytest.approx(second, abs=0.0005)
    assert arm.move_linear((x, y, 0.15), yaw, 0.2)
    assert arm.hand.move(0.08, 0.05)  # clear of the bowl: no offset left between the fingers
    for _ in range(CONFIG.hz // 4):
        arm.step()
    first, second = finger_positions(arm)
    assert first == pytest.approx(0.04, abs=0.0002) and second == pytest.approx(0.04, abs=0.0002)


def test_a_finger_pushed_aside_takes_the_other_along_and_both_open_fully(client):
    arm = FrankaArm(client, CONFIG)
    assert arm.move_pose((0.45, 0.0, 0.2), 0.0, 0.5)
    assert arm.hand.move(0.04, 0.05)
    for _ in range(CONFIG.hz // 4):  # 60 N opening one finger, three times its motor's limit
        p.applyExternalForce(arm.body, arm.hand.finger_ids[0], (0.0, 60.0, 0.0), (0, 0, 0),
                             p.LINK_FRAME, physicsClientId=client)
        arm.step()
        first, second = finger_positions(arm)
        assert first == pytest.approx(second, abs=0.0015)  # the gear's soft correction
    assert arm.hand.width() > 0.075  # pushed to its stop, and the other finger came along
    assert arm.hand.move(0.08, 0.05)
    for _ in range(CONFIG.hz // 4):
        arm.step()
    first, second = finger_positions(arm)
    assert first == pytest.approx(0.04, abs=0.0002) and second == pytest.approx(0.04, abs=0.0002)
