"""pick_place and push on the real PyBullet UR5 (DIRECT), plus their input checks."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pybullet as p
import pytest

from cliport_common.poses import quat_from_yaw, yaw_of
from cliport_sim.primitives import PHASES, pick_place, push
from cliport_sim.robot import UR5, MoveBudget

IDENTITY = (0.0, 0.0, 0.0, 1.0)


def _box(client, xyz, half=0.02, mass=0.01, friction=1.0) -> int:
    shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=[half] * 3, physicsClientId=client)
    body = p.createMultiBody(mass, shape, -1, xyz, physicsClientId=client)
    p.changeDynamics(body, -1, lateralFriction=friction, physicsClientId=client)
    return body


def _settle(arm: UR5, n: int = 240) -> None:
    for _ in range(n):
        arm.step()


def _pose(client, body):
    pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=client)
    return np.array(pos), quat


def _scene(client, end_effector="suction", boxes=((0.5, 0.1),)):
    arm = UR5(client, end_effector)
    ids = [_box(client, (x, y, 0.02)) for x, y in boxes]
    arm.ee.set_graspable(ids)
    _settle(arm, 20)
    return arm, ids


@pytest.mark.parametrize("height,speed", [(0.32, 0.01), (0.02, 0.001)])
def test_pick_place_moves_a_cube_to_the_place_pose(client, height, speed):
    """Default parameters and the rope tasks' short slow lifts."""
    arm, (box,) = _scene(client)
    phases: list[str] = []
    place_yaw = math.radians(60)
    res = pick_place(arm, ((0.5, 0.1, 0.04), IDENTITY),
                     ((0.4, -0.15, 0.04), quat_from_yaw(place_yaw)),
                     height=height, speed=speed, on_phase=phases.append)
    assert res.ok and res.grasped and res.reason == "done"
    assert phases == list(PHASES)
    assert not arm.ee.check_grasp()
    _settle(arm)
    pos, quat = _pose(client, box)
    assert np.linalg.norm(pos[:2] - (0.4, -0.15)) < 0.01
    assert abs(pos[2] - 0.02) < 0.002
    assert abs(math.degrees(yaw_of(quat) - place_yaw)) < 5.0
    # the arm ends over the place pose
    tip = np.array(arm.tip_pose()[0])
    assert np.linalg.norm(tip - (0.4, -0.15, 0.04 + 0.32)) < 0.01
    assert res.steps > 0


def test_pick_at_an_empty_spot_backs_up(client):
    arm, (box,) = _scene(client)
    phases: list[str] = []
    res = pick_place(arm, ((0.6, -0.2, 0.0), IDENTITY), ((0.4, 0.2, 0.04), IDENTITY),
                     on_phase=phases.append)
    assert res.ok and not res.grasped and res.reason == "no_grasp"
    assert phases == ["approach", "descend", "grasp", "lift", "retreat"]
    tip = np.array(arm.tip_pose()[0])
    assert np.linalg.norm(tip - (0.6, -0.2, 0.32)) < 0.01  # back over the pick
    assert np.linalg.norm(_pose(client, box)[0] - (0.5, 0.1, 0.02)) < 1e-3  # untouched


def test_a_descent_without_contact_ends_at_its_limit(client):
    """A pick pose far above the table: the descent stops max_below under it."""
    arm, _ = _scene(client)
    lowest = []
    res = pick_place(arm, ((0.6, -0.2, 0.15), IDENTITY), ((0.4, 0.2, 0.04), IDENTITY),
                     max_below=0.03,
                     on_phase=lambda ph: lowest.append(arm.tip_pose()[0][2]))
    assert res.ok and res.reason == "no_grasp"
    # at the "grasp" phase the tip was at the bottom of the descent, nothing touched
    assert abs(lowest[2] - 0.12) < 0.01


def test_only_graspable_bodies_are_picked(client):
    arm, (box,) = _scene(client)
    arm.ee.set_graspable([])
    res = pick_place(arm, ((0.5, 0.1, 0.04), IDENTITY), ((0.4, 0.2, 0.04), IDENTITY))
    assert res.ok and not res.grasped and res.reason == "no_grasp"
    _settle(arm)
    assert np.linalg.norm(_pose(client, box)[0][:2] - (0.5, 0.1)) < 0.005


def test_should_stop_aborts_at_the_next_step(client):
    arm, (box,) = _scene(client)
    phases: list[str] = []
    steps_at_stop = []

    def stop() -> bool:
        if phases[-1] == "transfer":
            steps_at_stop.append(arm.sim_steps)
            return len(steps_at_stop) > 5
        return False

    res = pick_place(arm, ((0.5, 0.1, 0.04), IDENTITY), ((0.4, -0.15, 0.04), IDENTITY),
                     on_phase=phases.append, should_stop=stop)
    assert not res.ok and res.reason == "stopped"
    assert phases == ["approach", "descend", "grasp", "lift", "transfer"]
    assert steps_at_stop[-1] - steps_at_stop[0] == 5  # polled once per simulation step
    # stopped with the cube still held, in the air, touching nothing else
    assert arm.ee.held_object == box and not arm.ee.detect_contact()
    assert _pose(client, box)[0][2] > 0.1


def test_a_step_budget_ends_the_primitive(client):
    arm = UR5(client, budget=MoveBudget(factor=0.2, margin=0))
    box = _box(client, (0.5, 0.1, 0.02))
    arm.ee.set_graspable([box])
    phases: list[str] = []
    res = pick_place(arm, ((0.5, 0.1, 0.04), IDENTITY), ((0.4, -0.15, 0.04), IDENTITY),
                     on_phase=phases.append)
    assert not res.ok and res.reason == "step_budget"
    assert phases == ["approach"]


class _RecordingUR5(UR5):
    """The real arm, noting every pose it is sent to."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.targets: list[tuple] = []

    def movep(self, pose, *args, **kwargs):
        self.targets.append(pose)
        return super().movep(pose, *args, **kwargs)


def test_push_moves_a_row_of_small_cubes_along_the_push(client):
    arm = _RecordingUR5(client, "spatula")
    angle = math.radians(30)
    direction = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-direction[1], direction[0]])
    start = np.array([0.4, -0.1])
    row = start + 0.04 * direction
    cubes = [_box(client, (*(row + k * across), 0.005), half=0.005, mass=0.001, friction=0.5)
             for k in np.linspace(-0.025, 0.025, 4)]
    before = [_pose(client, c)[0][:2] for c in cubes]
    _settle(arm, 20)
    end = start + 0.2 * direction
    phases: list[str] = []
    res = push(arm, ((*start, 0.0), IDENTITY), ((*end, 0.1), IDENTITY), on_phase=phases.append)
    assert res.ok and not res.grasped and res.reason == "done"
    assert phases == ["approach", "descend", "transfer", "retreat"]
    _settle(arm)
    for c, b in zip(cubes, before, strict=True):
        moved = _pose(client, c)[0][:2] - b
        assert moved @ direction > 0.08  # pushed along the direction
        assert abs(moved @ across) < 0.02  # and not much sideways
    # the stroke: 2 cm before the start to 5 cm short of the end, 1 cm steps, z = 0.005,
    # spatula yaw along the push (the reference's interpolation bug fixed)
    stroke = arm.targets[2:-1]
    xy = np.array([t[0][:2] for t in stroke])
    assert np.allclose(xy[0], start - 0.01 * direction, atol=1e-9)  # first 1 cm step
    assert np.allclose(np.diff(xy, axis=0)[:-1], 0.01 * direction, atol=1e-9)
    assert np.allclose(xy[-1], end - 0.05 * direction, atol=1e-9)
    assert len(stroke) == 18  # floor(0.17 / 0.01) steps + the final move
    assert all(t[0][2] == 0.005 for t in stroke)
    assert all(abs(yaw_of(t[1]) - angle) < 1e-9 for t in arm.targets)
    assert np.allclose(arm.targets[1][0][:2], start - 0.02 * direction)  # down at the start


def test_bad_input_is_rejected(client):
    arm = UR5(client, "spatula")
    with pytest.raises(ValueError, match="coincide"):
        push(arm, ((0.5, 0.0, 0.0), IDENTITY), ((0.5, 0.0, 0.1), IDENTITY))
    with pytest.raises(ValueError, match="pose1"):
        pick_place(arm, ((0.5, 0.0, 0.0), IDENTITY), ((0.5, float("nan"), 0.0), IDENTITY))
    with pytest.raises(ValueError, match="pose0"):
        pick_place(arm, ((0.5, 0.0), IDENTITY), ((0.5, 0.0, 0.0), IDENTITY))
    with pytest.raises(ValueError, match="speed"):
        pick_place(arm, ((0.5, 0.0, 0.0), IDENTITY), ((0.5, 0.1, 0.0), IDENTITY), speed=0)


def test_primitives_do_not_import_pybullet():
    code = ("import sys, cliport_sim.primitives; "
            "sys.exit(1 if 'pybullet' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
