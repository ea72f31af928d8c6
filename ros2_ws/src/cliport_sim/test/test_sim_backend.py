"""The sim backend on the real PyBullet UR5 (DIRECT): placement accuracy, phases, reward,
cancel at the next step with the arm at rest, timeouts, pacing, tools."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time

import numpy as np
import pybullet as p
import pytest

from cliport_common.poses import SE2Pose, quat_from_yaw, yaw_of
from cliport_executor.config import ExecutorConfig, SimBackendConfig, Timeouts
from cliport_executor.request import (
    PICK_PLACE_PHASES,
    PUSH_PHASES,
    ErrorCode,
    Phase,
    PickPlaceRequest,
    Primitive,
)
from cliport_executor.supervision import Supervisor
from cliport_sim import assets
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.geometry import yaw_difference
from cliport_sim.sim_backend import SimBackend
from cliport_sim.tasks import make_task

TASK = "put-block-in-bowl-seen-colors"
BLOCK = (0.04, 0.04, 0.04)


@pytest.fixture(scope="module")
def env():
    with Environment(make_task(TASK, "test"), SimConfig(observe=False, egl=False)) as e:
        yield e


def backend_for(env, seed: int, **sim) -> SimBackend:
    cfg = dataclasses.replace(ExecutorConfig(), sim=SimBackendConfig(seed=seed, **sim))
    backend = SimBackend(cfg, env=env)
    backend.reset(seed)
    return backend


def block_and_bowl(env):
    goal = env.task.goals[0]
    return goal.objects[0], goal.targets[0]


def to_bowl(env, block, bowl, yaw=0.0, **kw) -> PickPlaceRequest:
    (x, y, z), _ = env.pose(block)
    return PickPlaceRequest("put the block in the bowl", SE2Pose(x, y, z + BLOCK[2] / 2, 0.0),
                            SE2Pose(bowl[0][0], bowl[0][1], BLOCK[2], yaw), **kw)


def run(backend, request, **sup_kw):
    feedback: list[tuple[Phase, float]] = []
    sup = Supervisor(lambda ph, f: feedback.append((ph, f)), **sup_kw)
    return backend.execute(request, sup), feedback, sup


@pytest.mark.parametrize("seed", [10001, 10003, 10005])
def test_a_block_ends_at_the_place_pose_within_1cm(env, seed):
    backend = backend_for(env, seed)
    block, bowl = block_and_bowl(env)
    _, quat0 = env.pose(block)
    out, feedback, _ = run(backend, to_bowl(env, block, bowl, yaw=0.6))
    assert out.success and out.error_code == ErrorCode.NONE
    assert out.reward is not None and out.reward > 0  # the task scored the step
    pos, quat = env.pose(block)
    error = math.dist(pos[:2], bowl[0][:2])
    print(f"seed {seed}: block {1000 * error:.2f} mm from the place pose")
    assert error < 0.01
    # suction keeps its grip: the block turned with the tool by the place yaw (mod 90 deg)
    turned = quat_from_yaw(yaw_of(quat0) + 0.6)
    assert yaw_difference(quat, turned, math.pi / 2) < math.radians(5)
    phases = [ph for ph, _ in feedback]
    assert phases[:7] == list(PICK_PLACE_PHASES) and phases[-1] == Phase.RETREAT
    progress = [f for _, f in feedback]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_a_block_placed_directly_is_carried_to_a_free_spot(env):
    """Tests can build their own scene: a block added to the world, moved to a free pose."""
    backend = backend_for(env, 10007)
    start = env.task.random_pose(env, BLOCK)
    block = env.add_object(assets.asset_path("stacking/block.urdf"), start, color="red")
    env.settle()
    goal = env.task.random_pose(env, BLOCK)
    (x0, y0, _), _ = env.pose(block)
    out, _, _ = run(backend, PickPlaceRequest("move the red block",
                                              SE2Pose(x0, y0, BLOCK[2], 0.0),
                                              SE2Pose(goal[0][0], goal[0][1], BLOCK[2], 0.0)))
    assert out.success
    assert math.dist(env.pose(block)[0][:2], goal[0][:2]) < 0.01


class CancelInTransfer(Supervisor):
    """The real supervisor, with a client that cancels ``after`` control periods into the
    transfer (deterministic: counted in simulation steps, not wall time)."""

    def __init__(self, robot, after: int) -> None:
        super().__init__()
        self.robot, self.after = robot, after
        self.steps_at_cancel: int | None = None
        self._polls = 0

    def should_stop(self) -> bool:
        if self.phase_now == Phase.TRANSFER and self.steps_at_cancel is None:
            self._polls += 1
            if self._polls > self.after:
                self.steps_at_cancel = self.robot.sim_steps
                self.cancel()
        return super().should_stop()


def test_cancel_mid_motion_stops_at_the_next_step_and_the_arm_stays_put(env):
    backend = backend_for(env, 10001)
    block, bowl = block_and_bowl(env)
    robot = env.robot
    sup = CancelInTransfer(robot, after=20)
    pick_x = env.pose(block)[0][0]
    out = backend.execute(to_bowl(env, block, bowl), sup)
    assert not out.success and out.error_code == ErrorCode.CANCELED
    assert out.message == "canceled by the client during transfer"
    assert robot.sim_steps - sup.steps_at_cancel == 0  # no further simulation step
    assert robot.ee.held_object == block  # nothing dropped from the air
    moving = max(abs(s[1]) for s in p.getJointStates(robot.body, robot.joints,
                                                     physicsClientId=env.client))
    assert moving > 0.5  # stopped mid-motion (joints still turning at the cancel), and
    tip0 = np.array(robot.tip_pose()[0])
    assert min(pick_x, bowl[0][0]) < tip0[0] < max(pick_x, bowl[0][0])  # between pick, place
    for _ in range(240):  # half a second of physics with nobody commanding anything new
        robot.step()
    drift = float(np.linalg.norm(np.array(robot.tip_pose()[0]) - tip0))
    speeds = [abs(s[1]) for s in p.getJointStates(robot.body, robot.joints,
                                                  physicsClientId=env.client)]
    print(f"after cancel: tip drift {1000 * drift:.2f} mm in 0.5 s, "
          f"max joint speed {max(speeds):.4f} rad/s (was {moving:.2f} at the stop)")
    assert drift < 0.005 and max(speeds) < 0.05, (drift, speeds)


def test_a_phase_overrunning_its_timeout_ends_timeout(env):
    backend = backend_for(env, 10001, real_time_factor=1.0)
    block, bowl = block_and_bowl(env)
    start = time.monotonic()
    out, feedback, _ = run(backend, to_bowl(env, block, bowl),
                           timeouts=Timeouts(approach=0.05))
    assert out.error_code == ErrorCode.TIMEOUT and "approach exceeded" in out.message
    assert time.monotonic() - start < 2.0
    assert [ph for ph, _ in feedback] == [Phase.APPROACH]


def test_real_time_pacing_and_speed_scaling(env):
    backend = backend_for(env, 10001, real_time_factor=4.0)
    block, bowl = block_and_bowl(env)
    steps0, start = env.robot.sim_steps, time.monotonic()
    out, _, _ = run(backend, to_bowl(env, block, bowl))
    steps, wall = env.robot.sim_steps - steps0, time.monotonic() - start
    assert out.success
    assert wall >= 0.9 * steps / env.config.hz / 4.0  # never faster than 4x real time
    slow = backend_for(env, 10001)
    block, bowl = block_and_bowl(env)
    steps0 = env.robot.sim_steps
    assert run(slow, to_bowl(env, block, bowl, speed_scaling=0.5))[0].success
    assert env.robot.sim_steps - steps0 > 1.2 * steps  # lift, transfer, place at half speed


def test_picking_nothing_is_a_grasp_failure_with_the_arm_backed_up(env):
    backend = backend_for(env, 10001)
    free = env.task.random_pose(env, BLOCK)
    x, y = free[0][0], free[0][1]
    out, feedback, _ = run(backend, PickPlaceRequest("pick air", SE2Pose(x, y, 0.0, 0.0),
                                                     SE2Pose(0.5, 0.0, 0.04, 0.0)))
    assert out.error_code == ErrorCode.GRASP_FAILED and out.reward is not None
    assert [ph for ph, _ in feedback][-1] == Phase.RETREAT
    assert env.robot.tip_pose()[0][2] > 0.25  # back up over the pick


def test_the_tool_must_suit_the_primitive(env):
    backend = backend_for(env, 10001)
    out, feedback, _ = run(backend, PickPlaceRequest(
        "sweep", SE2Pose(0.4, 0.0, 0.0, 0.0), SE2Pose(0.6, 0.0, 0.0, 0.0),
        primitive=Primitive.PUSH))
    assert out.error_code == ErrorCode.INVALID_GOAL and "suction" in out.message
    assert feedback == []  # nothing moved


def test_push_with_the_spatula_on_a_piles_task():
    cfg = dataclasses.replace(ExecutorConfig(), sim=SimBackendConfig(
        task="separating-piles-seen-colors", seed=10001))
    backend = SimBackend(cfg)
    backend.connect()
    try:
        env = backend.env
        action = env.task.oracle(env)
        (x0, y0, _), (x1, y1, _) = action.pose0[0], action.pose1[0]
        out, feedback, _ = run(backend, PickPlaceRequest(
            "push the pile into the zone", SE2Pose(x0, y0, 0.0, 0.0), SE2Pose(x1, y1, 0.0, 0.0),
            primitive=Primitive.PUSH))
        assert out.success and out.reward is not None and out.reward > 0
        assert [ph for ph, _ in feedback][:4] == list(PUSH_PHASES)
    finally:
        backend.disconnect()
    assert backend.env is None


def test_the_executor_finds_the_sim_backend_by_name_without_rclpy():
    """The executor names no simulator: ``sim`` comes from this package's entry point, in a
    process that imported nothing of cliport_sim before asking for it."""
    code = ("import sys; from cliport_executor.backend import available_backends, make_backend; "
            "from cliport_executor.config import ExecutorConfig; "
            "assert 'cliport_sim' not in sys.modules and 'sim' in available_backends(); "
            "b = make_backend('sim', ExecutorConfig()); "
            "assert type(b).__module__ == 'cliport_sim.sim_backend' and b.name == 'sim', b; "
            "assert 'rclpy' not in sys.modules, 'rclpy loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
