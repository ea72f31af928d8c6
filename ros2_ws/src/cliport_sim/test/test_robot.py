"""UR5 model, IK, joint moves and end effectors, in a real PyBullet DIRECT client."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_sim.grippers import Spatula, Suction
from cliport_sim.robot import HOME_JOINTS, UR5, MoveBudget, forward_kinematics


def _set_joints(arm: UR5, q) -> None:
    for j, v in zip(arm.joints, q, strict=True):
        p.resetJointState(arm.body, j, float(v), physicsClientId=arm.client)


def _link_pose(arm: UR5, q):
    _set_joints(arm, q)
    s = p.getLinkState(arm.body, arm.tip_link, computeForwardKinematics=True,
                       physicsClientId=arm.client)
    return np.array(s[4]), np.array(p.getMatrixFromQuaternion(s[5])).reshape(3, 3)


def test_urdf_matches_the_dh_model(client):
    arm = UR5(client)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(-np.pi, np.pi, 6)
        pos, rot = _link_pose(arm, q)
        T = forward_kinematics(q)
        assert np.allclose(pos, T[:3, 3], atol=1e-6)
        assert np.allclose(rot, T[:3, :3], atol=1e-6)


def test_home_pose_points_the_tool_down_over_the_table(client):
    arm = UR5(client)
    assert np.allclose(arm.joint_positions(), HOME_JOINTS, atol=1e-9)
    pos, quat = arm.tip_pose()
    assert np.allclose(pos, (0.4869, 0.10915, 0.35186), atol=1e-4)
    assert np.allclose(np.abs(quat), (0, 0, 0, 1), atol=1e-6)  # world-aligned at home
    # joints resolved by name; the tip link is the last one
    assert len(arm.joints) == 6 and arm.tip_link > arm.ee_link > max(arm.joints)


def _reach_margin(x: float, y: float, z: float) -> float:
    """Metres to spare for the straightened arm, tool pointing down (independent geometry).

    With the tool vertical, the wrist-1 centre sits 0.1623 m (flange 0.08 + d6) over the tip,
    d4 to the side of the arm plane and, at best, d5 closer to the base; shoulder and elbow
    then span at most |a2| + |a3| from the shoulder at height d1.
    """
    rho = math.sqrt(max(x * x + y * y - 0.10915**2, 0.0)) - 0.09465
    return 0.425 + 0.39225 - math.hypot(rho, z + 0.0823 + 0.08 - 0.089159)


def test_ik_reaches_the_workspace_within_2mm(client):
    arm = UR5(client)
    worst = 0.0
    n_reached = n_out = 0
    for x in np.linspace(0.25, 0.75, 5):
        for y in np.linspace(-0.5, 0.5, 5):
            for z in (0.0, 0.15, 0.3):
                margin = _reach_margin(x, y, z)
                for yaw in (0.0, 2.0, -2.5):
                    pose = ((x, y, z), quat_from_yaw(yaw))
                    q = arm.solve_ik(pose)
                    assert np.all((q[2:] >= -np.pi) & (q[2:] < np.pi))
                    pos, rot = _link_pose(arm, q)  # checked in the simulator, not only the model
                    err = float(np.linalg.norm(pos - pose[0]))
                    if margin < -0.005:  # a far corner, high up: out of a UR5's reach
                        n_out += 1
                        assert err > 0.005 and not arm.reachable(pose)
                        continue
                    if margin < 0.005:
                        continue  # on the edge of the reach: either answer is right
                    n_reached += 1
                    worst = max(worst, err)
                    # Elbow up, as at home: the elbow-down branch sweeps the upper arm a few
                    # cm over the table, through bowls near the base.
                    assert 0.0 < q[2] < np.pi
                    assert rot[2, 2] > 0.9999  # tool straight down
                    assert abs(math.atan2(rot[1, 0], rot[0, 0]) - yaw) < 1e-3
    assert n_reached > 180 and n_out > 0
    assert worst < 2e-3
    assert worst < 1e-4  # in fact: the Newton refinement leaves ~nothing
    assert arm.reachable(((0.75, 0.5, 0.0), quat_from_yaw(0.0)))  # the table's far corners


def test_movej_reaches_the_target_at_constant_speed(client):
    arm = UR5(client)
    target = arm.solve_ik(((0.5, -0.2, 0.1), quat_from_yaw(0.5)))
    dist = float(np.linalg.norm(target - arm.joint_positions()))
    res = arm.movej(target, speed=0.01)
    assert res.ok and res.reason == "reached"
    assert abs(res.steps - dist / 0.01) <= 3  # one `speed` increment per step
    for _ in range(5):  # the motors hold the exact target
        arm.step()
    assert np.allclose(arm.joint_positions(), target, atol=1e-3)
    pos, quat = arm.tip_pose()
    assert np.allclose(pos, (0.5, -0.2, 0.1), atol=1e-3)
    assert abs(yaw_of(quat) - 0.5) < 2e-3
    res = arm.movep(((0.5, -0.2, 0.1), quat_from_yaw(0.5)))  # already there
    assert res.reason == "reached" and res.steps == 0


def test_movej_step_budget(client):
    arm = UR5(client)
    target = arm.solve_ik(((0.4, 0.3, 0.05), quat_from_yaw(0.0)))
    res = arm.movej(target, max_steps=3)
    assert not res.ok and res.reason == "step_budget" and res.steps == 3
    # the default budget comes from MoveBudget, in steps
    tiny = UR5(client, budget=MoveBudget(factor=0.1, margin=0))
    res = tiny.movej(target)
    assert res.reason == "step_budget"
    assert 0 < res.steps <= math.ceil(0.1 * np.linalg.norm(target - HOME_JOINTS) / 0.01) + 1


def test_movej_should_stop_and_until(client):
    arm = UR5(client)
    target = arm.solve_ik(((0.4, 0.3, 0.05), quat_from_yaw(0.0)))
    polls = []

    def stop() -> bool:
        polls.append(1)
        return len(polls) > 7

    res = arm.movej(target, should_stop=stop)
    assert res.reason == "stopped" and not res.ok and res.steps == 7
    start = arm.sim_steps
    res = arm.movej(target, until=lambda: arm.sim_steps - start >= 4)
    assert res.reason == "condition" and res.ok and res.steps == 4


def test_reset_puts_the_arm_home_and_reseats_the_tip(client):
    arm = UR5(client)
    arm.movep(((0.6, -0.3, 0.02), quat_from_yaw(1.0)))
    arm.reset()
    assert np.allclose(arm.joint_positions(), HOME_JOINTS, atol=1e-9)
    tip_body = np.array(p.getBasePositionAndOrientation(arm.ee.tip, physicsClientId=client)[0])
    for _ in range(20):
        arm.step()
    assert np.allclose(arm.joint_positions(), HOME_JOINTS, atol=1e-4)
    tip_after = np.array(p.getBasePositionAndOrientation(arm.ee.tip, physicsClientId=client)[0])
    assert np.linalg.norm(tip_after - tip_body) < 1e-4  # seated where the constraint holds it
    assert np.allclose(tip_body - np.array(arm.tip_pose()[0]), (0, 0, 0.014), atol=1e-6)


def test_bad_input_is_rejected(client):
    with pytest.raises(ValueError, match="end effector"):
        UR5(client, "gripper")
    arm = UR5(client)
    with pytest.raises(ValueError, match="6 finite"):
        arm.movej([0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        arm.movej([0.0, 1.0, 2.0, 3.0, float("nan"), 0.0])
    with pytest.raises(ValueError, match="speed"):
        arm.movej(HOME_JOINTS, speed=0.0)
    with pytest.raises(ValueError, match="quaternion"):
        arm.solve_ik(((0.5, 0.0, 0.1), (0.0, 0.0, 0.0, 0.0)))
    with pytest.raises(ValueError, match="position"):
        arm.solve_ik(((0.5, float("inf"), 0.1), (0.0, 0.0, 0.0, 1.0)))


def _box(client, pos, half=0.02, mass=0.01):
    shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=[half] * 3, physicsClientId=client)
    body = p.createMultiBody(mass, shape, -1, pos, physicsClientId=client)
    p.changeDynamics(body, -1, lateralFriction=1.0, physicsClientId=client)
    return body


def test_suction_contact_grasp_and_release(client):
    arm = UR5(client)
    ee = arm.ee
    assert isinstance(ee, Suction)
    box = _box(client, (0.5, 0.0, 0.02))
    other = _box(client, (0.5, 0.2, 0.02))
    ee.set_graspable([box])
    assert not ee.detect_contact()
    ee.activate()  # touching nothing: no grasp
    assert not ee.check_grasp() and ee.held_object is None
    # press down on the box: contact, then a grasp that lifts it
    arm.movep(((0.5, 0.0, 0.1), quat_from_yaw(0.0)))
    res = arm.movep(((0.5, 0.0, 0.03), quat_from_yaw(0.0)), until=ee.detect_contact)
    assert res.reason == "condition" and ee.detect_contact()
    ee.activate()
    assert ee.check_grasp() and ee.held_object == box
    arm.movep(((0.5, 0.0, 0.15), quat_from_yaw(0.0)))
    assert p.getBasePositionAndOrientation(box, physicsClientId=client)[0][2] > 0.1
    assert not ee.detect_contact()  # the held box touches nothing but the tip
    ee.release()
    assert not ee.check_grasp()
    for _ in range(300):
        arm.step()
    assert p.getBasePositionAndOrientation(box, physicsClientId=client)[0][2] < 0.021
    # a body that is not graspable is touched but not held
    arm.movep(((0.5, 0.2, 0.1), quat_from_yaw(0.0)))
    arm.movep(((0.5, 0.2, 0.03), quat_from_yaw(0.0)), until=ee.detect_contact)
    assert ee.detect_contact()
    ee.activate()
    assert not ee.check_grasp()
    assert other not in ee.body_ids


def test_spatula_loads_and_senses_contact(client):
    arm = UR5(client, "spatula")
    ee = arm.ee
    assert isinstance(ee, Spatula)
    blade = np.array(p.getBasePositionAndOrientation(ee.blade, physicsClientId=client)[0])
    assert np.allclose(blade - np.array(arm.tip_pose()[0]), (0, 0, 0.02), atol=1e-6)
    assert not ee.detect_contact()
    res = arm.movep(((0.5, 0.0, -0.02), quat_from_yaw(0.0)), until=ee.detect_contact)
    assert res.reason == "condition"
    ee.activate()
    assert not ee.check_grasp() and ee.held_object is None
    ee.release()
