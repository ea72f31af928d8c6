"""The Franka twin's arm: kinematics against PyBullet, top-down IK in the executor's yaw
convention, joint limits, motions with step budgets, stop predicates and stop/resume."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pybullet as p
import pytest
from scipy.spatial.transform import Rotation

from cliport_common.config import ConfigError, from_dict
from cliport_executor.franka.poses import top_down_quaternion
from cliport_sim.franka import FrankaArm, FrankaConfig, Unreachable, load_franka_config
from cliport_sim.franka import kinematics as kin
from cliport_sim.ik import rotation_error

CONFIG = load_franka_config()


@pytest.fixture
def arm(client):
    return FrankaArm(client, CONFIG)


def test_kinematic_model_matches_the_simulated_arm(arm):
    rng = np.random.default_rng(0)
    lim = kin.JOINT_LIMITS["panda"]
    for _ in range(5):
        q = rng.uniform(lim.lower, lim.upper)
        arm.reset(q)
        np.testing.assert_allclose(kin.tcp_transform(q), arm.tcp_transform(), atol=1e-6)


def test_ready_pose_points_the_tool_down_at_yaw_zero(arm):
    xyz, yaw = arm.tcp_pose()
    np.testing.assert_allclose(xyz, [0.3069, 0.0, 0.4869], atol=1e-3)
    assert yaw == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("yaw", [-math.pi / 2, -0.7, 0.0, 0.4, math.pi / 2])
def test_ik_lands_the_tcp_in_the_executor_frame_convention(arm, yaw):
    target = np.array([0.45, -0.15, 0.03])
    q = arm.ik(target, yaw)
    assert q is not None and kin.JOINT_LIMITS["panda"].contains(q)
    arm.reset(q)
    T = arm.tcp_transform()
    assert np.linalg.norm(T[:3, 3] - target) <= 1e-3
    expected = Rotation.from_quat(top_down_quaternion(yaw)).as_matrix()  # xyzw, as ROS
    angle = np.linalg.norm(rotation_error(expected, T[:3, :3]))
    assert math.degrees(angle) <= 0.5
    np.testing.assert_allclose(T[:3, 0], [math.cos(yaw), math.sin(yaw), 0.0], atol=1e-3)
    assert arm.tcp_pose()[1] == pytest.approx(yaw, abs=1e-3)


def test_ik_refuses_what_the_arm_cannot_reach(arm):
    assert arm.ik((1.0, 0.0, 0.02), 0.0) is None  # beyond the 855 mm reach
    assert arm.ik((0.05, 0.0, 0.02), 0.0) is None  # inside the base
    with pytest.raises(ValueError, match="finite"):
        arm.ik((0.5, math.nan, 0.1), 0.0)


@pytest.mark.parametrize("model", ["panda", "fr3"])
def test_ik_solutions_respect_the_active_limits(client, model):
    arm = FrankaArm(client, dataclasses.replace(CONFIG, model=model))
    lim = kin.JOINT_LIMITS[model]
    for xyz, yaw in [((0.35, 0.3, 0.01), -math.pi / 2), ((0.6, -0.3, 0.25), math.pi / 2),
                     ((0.3, 0.0, 0.02), 1.2)]:
        q = arm.ik(xyz, yaw)
        assert q is not None and lim.contains(q)
    assert lim.lower[5] == (0.5445 if model == "fr3" else -0.0175)


def test_the_simulated_joints_stop_at_the_active_limits(client):
    fr3 = FrankaArm(client, dataclasses.replace(CONFIG, model="fr3"))
    target = fr3.ready_joints
    target[5], target[6] = 4.3, -3.0  # beyond the Panda URDF's joints 6 and 7
    assert fr3.move_joints(target, 1.0)
    np.testing.assert_allclose(fr3.joints(), target, atol=1e-3)


def test_joint_move_reaches_its_target(arm):
    q = arm.ik((0.5, 0.2, 0.1), 0.7)
    assert arm.move_joints(q, 0.5)
    xyz, yaw = arm.tcp_pose()
    np.testing.assert_allclose(xyz, [0.5, 0.2, 0.1], atol=1e-3)
    assert yaw == pytest.approx(0.7, abs=math.radians(0.5))


def test_linear_move_keeps_to_the_line(client):
    deviations: list[float] = []
    state: dict = {}

    def step():
        p.stepSimulation(physicsClientId=client)
        if "arm" in state:
            d = state["arm"].tcp_pose()[0] - state["start"]
            deviations.append(float(np.linalg.norm(d - np.dot(d, state["u"]) * state["u"])))

    arm = FrankaArm(client, CONFIG, step=step)
    assert arm.move_pose((0.35, 0.25, 0.25), 0.5, 0.5)
    goal = np.array([0.55, -0.2, 0.02])
    start = arm.tcp_pose()[0]
    state.update(arm=arm, start=start, u=(goal - start) / np.linalg.norm(goal - start))
    assert arm.move_linear(goal, -0.8, 0.3)
    xyz, yaw = arm.tcp_pose()
    np.testing.assert_allclose(xyz, goal, atol=1e-3)
    assert yaw == pytest.approx(-0.8, abs=math.radians(0.5))
    assert len(deviations) > 100 and max(deviations) <= 0.002


def test_a_line_out_of_reach_is_refused_before_moving(arm):
    before = arm.joints()
    with pytest.raises(Unreachable):
        arm.move_linear((0.95, 0.0, 0.05), 0.0, 0.5)
    np.testing.assert_array_equal(arm.joints(), before)


def test_should_stop_ends_a_move_at_rest_and_stop_refuses_until_resume(arm):
    q = arm.ik((0.5, -0.2, 0.1), 0.0)
    steps = {"n": 0}

    def after_50_steps() -> bool:
        steps["n"] += 1
        return steps["n"] > 50

    assert not arm.move_joints(q, 0.5, should_stop=after_50_steps)
    assert np.abs(arm.joint_velocities()).max() < 0.01
    assert np.abs(arm.joints() - q).max() > 0.1  # stopped on the way
    arm.stop()
    held = arm.joints()
    assert not arm.move_joints(q, 0.5)
    np.testing.assert_allclose(arm.joints(), held, atol=1e-3)
    arm.resume()
    assert arm.move_joints(q, 0.5)


def test_a_blocked_motion_ends_within_its_step_budget(client, arm):
    wall = p.createCollisionShape(p.GEOM_BOX, halfExtents=(0.1, 0.1, 0.05),
                                  physicsClientId=client)
    p.createMultiBody(0, wall, basePosition=(0.45, 0.0, 0.05), physicsClientId=client)
    assert arm.move_pose((0.45, 0.0, 0.25), 0.0, 0.5)
    before = arm.sim_steps
    assert not arm.move_linear((0.45, 0.0, 0.03), 0.0, 0.5)  # the box is in the way
    assert arm.sim_steps - before < 5 * CONFIG.hz
    assert arm.tcp_pose()[0][2] > 0.1


def test_bad_motion_inputs_are_refused(arm):
    with pytest.raises(ValueError, match="outside the panda limits"):
        arm.move_joints([0, 0, 0, 0, 0, 0, 0], 0.5)  # joint 4 must stay below -0.0698
    with pytest.raises(ValueError, match="scaling"):
        arm.move_joints(arm.ready_joints, 1.5)
    with pytest.raises(Unreachable):
        arm.move_pose((1.2, 0.0, 0.1), 0.0, 0.5)


def test_config_is_loaded_strictly():
    assert CONFIG.model == "panda" and CONFIG.hz == 240
    with pytest.raises(ConfigError, match="unknown keys"):
        from_dict(FrankaConfig, {"modle": "fr3"})
    with pytest.raises(ConfigError, match="panda"):
        FrankaConfig(model="ur5")
