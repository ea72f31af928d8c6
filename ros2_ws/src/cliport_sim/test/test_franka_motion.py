"""The executor's MoveIt/Franka backend runs its own sequencing (franka/poses, the Cartesian
primitives, stop handling) on the twin through TwinMotion / TwinHand: a block is picked at
its yaw and placed at a commanded pose; a cancel mid-carry stops the arm holding the block."""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pybullet as p
import pytest

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import MotionError, Scaling
from cliport_executor.backends.moveit import MoveItFrankaBackend
from cliport_executor.config import RecoveryConfig, load_executor_config
from cliport_executor.request import ErrorCode, Phase, PickPlaceRequest
from cliport_executor.supervision import Supervisor
from cliport_sim.assets import asset_path
from cliport_sim.franka import FrankaArm, load_franka_config
from cliport_sim.franka.motion import TwinHand, TwinMotion

# The shipped executor settings (the real arm's), error recovery off: there is no
# franka_ros2 controller manager to call on the twin.
EXECUTOR = dataclasses.replace(load_executor_config(), backend="moveit",
                               recovery=RecoveryConfig(enabled=False))
BLOCK_SIZE = 0.04
HZ = load_franka_config().hz


def yaw_error_mod(a: float, b: float, period: float) -> float:
    return abs(math.remainder(a - b, period))


def make_twin(client, model: str = "panda") -> tuple[FrankaArm, MoveItFrankaBackend]:
    arm = FrankaArm(client, dataclasses.replace(load_franka_config(), model=model))
    backend = MoveItFrankaBackend(EXECUTOR, motion=TwinMotion(arm),
                                  tool=TwinHand(arm.hand, EXECUTOR.gripper), recovery=None)
    backend.connect()
    return arm, backend


@pytest.fixture
def twin(client):
    return make_twin(client)


def add_block(client, x: float, y: float, yaw: float) -> int:
    return p.loadURDF(str(asset_path("block/block.urdf")), (x, y, BLOCK_SIZE / 2),
                      p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=client)


def block_pose(client, block: int) -> tuple[np.ndarray, float]:
    pos, quat = p.getBasePositionAndOrientation(block, physicsClientId=client)
    return np.asarray(pos), p.getEulerFromQuaternion(quat)[2]


def request_for(client, block: int, place_xy: tuple[float, float], place_yaw: float
                ) -> PickPlaceRequest:
    """Pick at the block's top centre and yaw; place its top at ``place_xy``."""
    pos, yaw = block_pose(client, block)
    top = pos[2] + BLOCK_SIZE / 2
    return PickPlaceRequest(instruction="move the block",
                            pick=SE2Pose(float(pos[0]), float(pos[1]), top, yaw),
                            place=SE2Pose(place_xy[0], place_xy[1], top, place_yaw))


@pytest.mark.parametrize("model, block_xy, pick_yaw, place, place_yaw", [
    ("panda", (0.50, 0.05), 0.6, (0.40, -0.20), -0.9),
    ("panda", (0.50, 0.05), -1.2, (0.55, 0.25), 1.4),  # folded by pi: the short way round
    ("fr3", (0.58, -0.28), 1.5, (0.33, 0.29), -1.5),  # corner to corner, FR3 limits
])
def test_moveit_sequencing_picks_and_places_a_block_on_the_twin(client, model, block_xy,
                                                                pick_yaw, place, place_yaw):
    arm, backend = make_twin(client, model)
    block = add_block(client, *block_xy, pick_yaw)
    phases: list[Phase] = []
    sup = Supervisor(feedback=lambda phase, _: phases.append(phase))
    outcome = backend.execute(request_for(client, block, place, place_yaw), sup)
    assert outcome.success, outcome.message
    assert phases[0] == Phase.APPROACH and Phase.TRANSFER in phases
    for _ in range(HZ // 4):  # let it settle
        arm.step()
    pos, yaw = block_pose(client, block)
    assert np.hypot(pos[0] - place[0], pos[1] - place[1]) <= 0.01
    assert pos[2] == pytest.approx(BLOCK_SIZE / 2, abs=0.002)  # on the table, upright
    assert math.degrees(yaw_error_mod(yaw, place_yaw, math.pi / 2)) <= 5.0  # a square block
    assert arm.hand.width() == pytest.approx(EXECUTOR.gripper.release_width, abs=0.001)


def test_a_cancel_mid_carry_stops_the_arm_holding_the_block(client, twin):
    arm, backend = twin
    block = add_block(client, 0.45, -0.1, 0.2)
    in_transfer = threading.Event()
    sup = Supervisor(feedback=lambda phase, _: phase == Phase.TRANSFER and in_transfer.set())
    canceled_at: dict[str, int] = {}

    def cancel_mid_carry() -> None:
        in_transfer.wait(60.0)
        start = arm.sim_steps
        while arm.sim_steps < start + HZ // 2 and not canceled_at:  # 0.5 s in
            threading.Event().wait(0.001)
        canceled_at["step"] = arm.sim_steps
        sup.cancel()

    canceller = threading.Thread(target=cancel_mid_carry, daemon=True)
    canceller.start()
    outcome = backend.execute(request_for(client, block, (0.4, 0.25), 0.0), sup)
    canceller.join(5.0)
    assert outcome.error_code == ErrorCode.CANCELED
    assert sup.phase_now == Phase.TRANSFER and "step" in canceled_at
    assert np.abs(arm.joint_velocities()).max() < 0.01  # at rest
    tcp_before = arm.tcp_pose()[0]
    for _ in range(HZ // 2):
        arm.step()
    np.testing.assert_allclose(arm.tcp_pose()[0], tcp_before, atol=1e-3)  # and holding
    assert tcp_before[2] > 0.2  # stopped at travel height, between pick and place
    assert np.hypot(tcp_before[0] - 0.45, tcp_before[1] + 0.1) > 0.02
    assert np.hypot(tcp_before[0] - 0.4, tcp_before[1] - 0.25) > 0.02
    pos, _ = block_pose(client, block)
    assert np.linalg.norm(pos - (tcp_before - [0, 0, 0.005])) < 0.01  # still in the fingers
    assert arm.hand.width() == pytest.approx(BLOCK_SIZE, abs=0.002)


def test_a_grasp_on_nothing_backs_up_with_the_fingers_open(twin):
    arm, backend = twin
    req = PickPlaceRequest(instruction="x", pick=SE2Pose(0.5, 0.2, 0.04, 0.0),
                           place=SE2Pose(0.4, -0.2, 0.04, 0.0))
    outcome = backend.execute(req, Supervisor())
    assert outcome.error_code == ErrorCode.GRASP_FAILED
    assert arm.tcp_pose()[0][2] == pytest.approx(EXECUTOR.motion.transfer_height, abs=1e-3)
    # opened again no wider than the fingers came down
    assert arm.hand.width() == pytest.approx(EXECUTOR.gripper.pregrasp_width, abs=0.001)


@pytest.mark.parametrize("pregrasp_width, succeeds", [
    (EXECUTOR.gripper.pregrasp_width, True),
    (EXECUTOR.gripper.open_width, False),
])
def test_the_pick_opens_only_as_wide_as_a_block_next_to_a_neighbour_allows(
        client, pregrasp_width, succeeds):
    """A neighbour 6.5 cm away along the fingers' axis: fully open (80 mm) a finger lands on
    it and the descent is blocked; at the pre-grasp width it comes down beside it."""
    arm = FrankaArm(client, load_franka_config())
    gripper = dataclasses.replace(EXECUTOR.gripper, pregrasp_width=pregrasp_width)
    backend = MoveItFrankaBackend(dataclasses.replace(EXECUTOR, gripper=gripper),
                                  motion=TwinMotion(arm), tool=TwinHand(arm.hand, gripper),
                                  recovery=None)
    backend.connect()
    block = add_block(client, 0.5, 0.0, 0.0)
    add_block(client, 0.5, 0.065, 0.0)  # at yaw 0 the fingers open along y
    outcome = backend.execute(request_for(client, block, (0.4, -0.2), 0.0), Supervisor())
    if not succeeds:
        assert outcome.error_code == ErrorCode.HARDWARE and "descend" in outcome.message
        return
    assert outcome.success, outcome.message
    pos, _ = block_pose(client, block)
    assert np.hypot(pos[0] - 0.4, pos[1] + 0.2) <= 0.01


def test_an_unreachable_pick_fails_planning_without_moving(twin):
    arm, backend = twin
    before = arm.joints()
    req = PickPlaceRequest(instruction="x", pick=SE2Pose(0.95, 0.0, 0.04, 0.0),
                           place=SE2Pose(0.4, -0.2, 0.04, 0.0))
    outcome = backend.execute(req, Supervisor())
    assert outcome.error_code == ErrorCode.PLANNING_FAILED
    assert "IK" in outcome.message
    np.testing.assert_allclose(arm.joints(), before, atol=1e-3)


def test_twin_motion_refuses_contact_descents_and_moves_nothing_while_stopped(twin):
    arm, _ = twin
    motion = TwinMotion(arm)
    with pytest.raises(MotionError) as err:
        motion.move_linear(SE2Pose(0.5, 0.0, 0.1, 0.0), Scaling(0.1, 0.1), stop_on_contact=True)
    assert err.value.code == ErrorCode.PLANNING_FAILED
    motion.stop()
    before = arm.joints()
    motion.move_free(SE2Pose(0.5, 0.2, 0.1, 0.0), Scaling(0.3, 0.3))
    assert not motion.move_linear(SE2Pose(0.5, 0.0, 0.1, 0.0), Scaling(0.1, 0.1))
    np.testing.assert_allclose(arm.joints(), before, atol=1e-4)
    motion.resume()
    motion.move_free(SE2Pose(0.5, 0.2, 0.1, 0.0), Scaling(0.3, 0.3))
    np.testing.assert_allclose(arm.tcp_pose()[0], [0.5, 0.2, 0.1], atol=1e-3)


def test_the_executor_min_tcp_z_keeps_the_fingertips_off_the_table(client, twin):
    arm, _ = twin
    table = 0  # the client fixture's ground plane, created first

    def clearance(z: float) -> float:
        arm.reset(arm.ik((0.45, 0.0, z), 0.3))
        return min(c[8] for j in arm.hand.finger_ids
                   for c in p.getClosestPoints(arm.body, table, 0.05, linkIndexA=j,
                                               physicsClientId=client))

    assert clearance(EXECUTOR.motion.min_tcp_z) > 0.002
    assert clearance(0.005) < 0.0  # the TCP is not the fingertip: they reach ~1 cm lower


# A block gripped 22 mm under its top (its top read 7 mm low, as depth noise can) goes into a
# bowl: at the release the fingertips are 10 mm under the rim.
BOWL_XY = (0.389, -0.135)
INTO_BOWL = PickPlaceRequest(instruction="put the block in the bowl",
                             pick=SE2Pose(0.511, -0.245, 0.033, math.radians(38.0)),
                             place=SE2Pose(*BOWL_XY, 0.052, math.radians(-35.0)))
OUT_OF_BOWL = PickPlaceRequest(instruction="take it out",
                               pick=SE2Pose(*BOWL_XY, 0.052, math.radians(-35.0)),
                               place=SE2Pose(0.45, 0.1, 0.04, 0.0))


@pytest.mark.parametrize("release_width, fails_at", [
    (EXECUTOR.gripper.release_width, None),
    (EXECUTOR.gripper.open_width, "place: gripper move to 0.080 m failed"),
])
def test_the_release_into_a_bowl_keeps_the_fingers_off_its_rim(client, release_width,
                                                               fails_at):
    phase: list[Phase] = []
    touched: set[Phase] = set()

    def step() -> None:
        p.stepSimulation(physicsClientId=client)
        if phase and any(p.getContactPoints(arm.body, bowl, j, physicsClientId=client)
                         for j in arm.hand.finger_ids):
            touched.add(phase[-1])

    arm = FrankaArm(client, load_franka_config(), step=step)
    gripper = dataclasses.replace(EXECUTOR.gripper, release_width=release_width)
    backend = MoveItFrankaBackend(dataclasses.replace(EXECUTOR, gripper=gripper),
                                  motion=TwinMotion(arm), tool=TwinHand(arm.hand, gripper),
                                  recovery=None)
    backend.connect()
    bowl = p.loadURDF(str(asset_path("bowl/bowl.urdf")), (*BOWL_XY, 0.0), useFixedBase=True,
                      physicsClientId=client)
    block = add_block(client, 0.511, -0.245, math.radians(38.0))
    sup = Supervisor(feedback=lambda ph, _: phase.append(ph))
    outcome = backend.execute(INTO_BOWL, sup)
    if fails_at is not None:  # fully open, the fingers meet the bowl and stay stuck there
        assert outcome.error_code == ErrorCode.HARDWARE and fails_at in outcome.message
        # the next goal's pre-grasp opening is narrower: the fingers come off the wall
        again = backend.execute(OUT_OF_BOWL, Supervisor())
        assert again.success, again.message
        return
    assert outcome.success, outcome.message
    assert Phase.PLACE not in touched and Phase.RETREAT not in touched
    pos, _ = block_pose(client, block)
    assert np.hypot(pos[0] - BOWL_XY[0], pos[1] - BOWL_XY[1]) < 0.01  # in the bowl
    again = backend.execute(OUT_OF_BOWL, Supervisor())  # opens first, over the bowl
    assert again.success, again.message
