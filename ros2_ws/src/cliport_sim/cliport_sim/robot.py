"""The simulated UR5: our URDF, IK to the tool tip, joint-space moves with step budgets.

docs/design.md#sim-step, with two changes that make outcomes independent of the machine:

* Moves are bounded by **simulation steps**, not the reference's 5 s of wall-clock time
  (docs/design.md#step-budgets). The default budget scales with the joint distance and speed
  (:class:`MoveBudget`), so slow rope moves get the steps they need and a blocked arm still
  ends. A stop predicate is polled every step so a cancel lands within one step.
* PyBullet's null-space IK (docs/design.md#ur5-ik: limits, ranges, rest pose, iterations) picks the
  joint branch, then a few damped Newton steps on the arm's exact DH model remove its residual
  of 1-4 mm, so the tip lands on the target to well under 0.1 mm wherever the pose is reachable.

Links and joints are found by name, never by index.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p

from cliport_common.poses import Pose
from cliport_perception.calibration import quaternion_matrix
from cliport_sim import ik
from cliport_sim.grippers import EndEffector, Spatula, Suction
from cliport_sim.primitives import FAST_SPEED, MoveResult

__all__ = ["UR5", "MoveBudget", "MoveResult", "URDF_PATH", "forward_kinematics"]

ASSET_DIR = Path(__file__).parent / "assets" / "ur5"
URDF_PATH = ASSET_DIR / "ur5.urdf"

JOINT_NAMES = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
               "wrist_2_joint", "wrist_3_joint")
EE_LINK = "ee_link"
TIP_LINK = "tip_link"

HOME_JOINTS = np.pi * np.array([-1.0, -0.5, 0.5, -0.5, -0.5, 0.0])
# The reference's IK limits (docs/design.md#ur5-ik), except the elbow: kept in (0, pi)
# (elbow up, as at home). With the reference's +-17 the solver sometimes returned the
# elbow-down branch, whose upper arm sweeps a few centimetres above the table and hits bowls
# near the base.
IK_LOWER = [-1.5 * np.pi, -2.3562, 0.0, -17.0, -17.0, -17.0]
IK_UPPER = [-0.5 * np.pi, 0.0, np.pi, 17.0, 17.0, 17.0]
IK_RANGES = [np.pi, 2.3562, np.pi, 34.0, 34.0, 34.0]
IK_ITERATIONS = 100
IK_RESIDUAL = 1e-5
JOINT_TOLERANCE = 0.01  # rad: a move is done when every joint is this close

# The URDF's kinematics (keep in step with assets/ur5/ur5.urdf; a test compares them).
DH_D = (0.089159, 0.0, 0.0, 0.10915, 0.09465, 0.0823)
DH_A = (0.0, -0.425, -0.39225, 0.0, 0.0, 0.0)
DH_ALPHA = (np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0)
FLANGE_TO_TIP = 0.08
# Flange -> ee_link rotation Rz(-pi/2) Rx(pi): z up the tool, world-aligned at home.
_R_FLANGE_EE = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])

END_EFFECTORS: dict[str, type[EndEffector]] = {"suction": Suction, "spatula": Spatula}


@dataclass(frozen=True)
class MoveBudget:
    """Default step budget of a move: ``factor * distance / speed + margin`` steps.

    A free move needs ``distance / speed`` steps; the factor and margin leave room for the
    final convergence and for a compliant tip pressing on something.
    """

    factor: float = 2.0
    margin: int = 240

    def steps(self, distance: float, speed: float) -> int:
        return int(math.ceil(self.factor * distance / speed)) + self.margin


DEFAULT_BUDGET = MoveBudget()


def _dh_frames(q: Sequence[float]) -> list[np.ndarray]:
    """World frames 0..6 of the DH chain (frame 0 = base) for joint angles ``q``."""
    frames = [np.eye(4)]
    T = np.eye(4)
    for i in range(6):
        ct, st = math.cos(q[i]), math.sin(q[i])
        ca, sa = math.cos(DH_ALPHA[i]), math.sin(DH_ALPHA[i])
        A = np.array([[ct, -st * ca, st * sa, DH_A[i] * ct],
                      [st, ct * ca, -ct * sa, DH_A[i] * st],
                      [0.0, sa, ca, DH_D[i]],
                      [0.0, 0.0, 0.0, 1.0]])
        T = T @ A
        frames.append(T)
    return frames


def forward_kinematics(q: Sequence[float]) -> np.ndarray:
    """4x4 world transform of ``tip_link`` for joint angles ``q`` (pure numpy)."""
    flange = _dh_frames(q)[-1]
    tip = np.eye(4)
    tip[:3, :3] = flange[:3, :3] @ _R_FLANGE_EE
    tip[:3, 3] = flange[:3, 3] - tip[:3, 2] * FLANGE_TO_TIP
    return tip


def _quat_to_matrix(q: Sequence[float]) -> np.ndarray:
    """Rotation of an xyzw quaternion, normalised; a zero or non-finite one is an error."""
    q = np.asarray(q, dtype=np.float64)
    n = float(np.linalg.norm(q))
    if q.shape != (4,) or not math.isfinite(n) or n < 1e-9:
        raise ValueError(f"orientation {tuple(q)} is not a valid quaternion")
    return quaternion_matrix(q / n)


def refine_ik(q0: Sequence[float], position: np.ndarray, R_target: np.ndarray,
              iterations: int = 12, damping: float = 1e-4) -> np.ndarray:
    """Damped Newton steps on the DH model from ``q0`` towards the tip pose."""
    def forward(q: np.ndarray):
        frames = _dh_frames(q)
        R = frames[-1][:3, :3] @ _R_FLANGE_EE
        return frames[:6], frames[-1][:3, 3] - R[:, 2] * FLANGE_TO_TIP, R

    return ik.refine(q0, forward, position, R_target, iterations=iterations, damping=damping,
                     tolerance=1e-9)


class UR5:
    """A UR5 with a suction gripper or a spatula in one PyBullet client.

    ``hz`` is the control rate: the client's time step is set to ``1/hz``. ``ee`` is the end
    effector (:class:`~cliport_sim.grippers.Suction` or :class:`~cliport_sim.grippers.Spatula`).
    """

    def __init__(self, client: int, end_effector: str = "suction", hz: int = 480,
                 budget: MoveBudget = DEFAULT_BUDGET) -> None:
        if end_effector not in END_EFFECTORS:
            raise ValueError(f"unknown end effector {end_effector!r}; "
                             f"expected one of {sorted(END_EFFECTORS)}")
        if not (isinstance(hz, int) and hz > 0):
            raise ValueError(f"hz must be a positive int, got {hz!r}")
        self.client = client
        self.hz = hz
        self.budget = budget
        self.sim_steps = 0  # simulation steps taken through this arm
        self.on_step: Callable[[], None] | None = None  # called after each of them
        p.setTimeStep(1.0 / hz, physicsClientId=client)
        self.body = p.loadURDF(str(URDF_PATH), (0, 0, 0), (0, 0, 0, 1), useFixedBase=True,
                               physicsClientId=client)
        by_joint: dict[str, int] = {}
        by_link: dict[str, int] = {}
        for i in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, i, physicsClientId=client)
            by_joint[info[1].decode()] = i
            by_link[info[12].decode()] = i
        self.joints = [by_joint[n] for n in JOINT_NAMES]
        self.ee_link = by_link[EE_LINK]
        self.tip_link = by_link[TIP_LINK]
        self._home = HOME_JOINTS.copy()
        self._home.setflags(write=False)
        self._gains = [1.0] * len(self.joints)
        self.ee: EndEffector = END_EFFECTORS[end_effector](client, self.body, self.ee_link)
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def home_joints(self) -> np.ndarray:
        return self._home

    @property
    def gripper(self) -> EndEffector:
        return self.ee

    def reset(self) -> None:
        """Joints to home at once (no motion), gripper released and re-seated."""
        c = self.client
        for j, q in zip(self.joints, self._home, strict=True):
            p.resetJointState(self.body, j, float(q), 0.0, physicsClientId=c)
        self._command(self._home)
        self.ee.release()
        self.ee.reset_pose()

    def joint_positions(self) -> np.ndarray:
        states = p.getJointStates(self.body, self.joints, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def tip_pose(self) -> Pose:
        s = p.getLinkState(self.body, self.tip_link, computeForwardKinematics=True,
                           physicsClientId=self.client)
        return tuple(s[4]), tuple(s[5])

    def step(self) -> None:
        p.stepSimulation(physicsClientId=self.client)
        self.sim_steps += 1
        if self.on_step is not None:
            self.on_step()

    def _command(self, q: Sequence[float]) -> None:
        p.setJointMotorControlArray(self.body, self.joints, p.POSITION_CONTROL,
                                    targetPositions=list(q), positionGains=self._gains,
                                    physicsClientId=self.client)

    # ------------------------------------------------------------------ kinematics
    def solve_ik(self, pose: Pose) -> np.ndarray:
        """Joint angles putting ``tip_link`` at ``pose``; joints 2-5 wrapped into [-pi, pi)."""
        pos = np.asarray(pose[0], dtype=np.float64)
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise ValueError(f"target position must be 3 finite numbers, got {pose[0]!r}")
        R_target = _quat_to_matrix(pose[1])
        q = p.calculateInverseKinematics(
            self.body, self.tip_link, pos.tolist(), list(pose[1]),
            lowerLimits=IK_LOWER, upperLimits=IK_UPPER, jointRanges=IK_RANGES,
            restPoses=self._home.tolist(), maxNumIterations=IK_ITERATIONS,
            residualThreshold=IK_RESIDUAL, physicsClientId=self.client)
        q = refine_ik(q, pos, R_target)
        q[2:] = (q[2:] + np.pi) % (2 * np.pi) - np.pi
        return q

    def ik_error(self, pose: Pose, q: Sequence[float]) -> tuple[float, float]:
        """(position error in m, orientation error in rad) of ``q`` against ``pose``."""
        T = forward_kinematics(q)
        pos_err = float(np.linalg.norm(T[:3, 3] - np.asarray(pose[0], dtype=np.float64)))
        rot_err = float(np.linalg.norm(ik.rotation_error(_quat_to_matrix(pose[1]), T[:3, :3])))
        return pos_err, rot_err

    def reachable(self, pose: Pose, tolerance: float = 1e-3) -> bool:
        """Whether IK puts the tip within ``tolerance`` metres (and ~0.06 deg) of ``pose``."""
        pos_err, rot_err = self.ik_error(pose, self.solve_ik(pose))
        return pos_err <= tolerance and rot_err <= 1e-3

    # ------------------------------------------------------------------ motion
    def movej(self, target_joints: Sequence[float], speed: float = FAST_SPEED,
              max_steps: int | None = None, should_stop: Callable[[], bool] | None = None,
              until: Callable[[], bool] | None = None) -> MoveResult:
        """Constant joint-space velocity towards ``target_joints`` (docs/design.md#sim-step).

        Each step commands ``speed`` rad along the joint difference (never past the target)
        with position control, gains 1. Done when every joint is within 0.01 rad; the motors
        are then set to the exact target, so the arm closes the last gap while the simulation
        goes on (the reference holds the last increment, up to 0.01 rad short). ``until``
        and ``should_stop`` are polled before every step; ``max_steps`` defaults to the
        :class:`MoveBudget` for this move.
        """
        target = np.asarray(target_joints, dtype=np.float64)
        if target.shape != (len(self.joints),) or not np.all(np.isfinite(target)):
            raise ValueError(f"target_joints must be {len(self.joints)} finite numbers, "
                             f"got {target_joints!r}")
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be positive, got {speed!r}")
        c, body, joints = self.client, self.body, self.joints
        if max_steps is None:
            max_steps = self.budget.steps(float(np.linalg.norm(target - self.joint_positions())),
                                          speed)
        steps = 0
        while True:
            if until is not None and until():
                return MoveResult("condition", steps)
            if should_stop is not None and should_stop():
                return MoveResult("stopped", steps)
            states = p.getJointStates(body, joints, physicsClientId=c)
            current = np.array([s[0] for s in states])
            diff = target - current
            if np.abs(diff).max() < JOINT_TOLERANCE:
                self._command(target)  # hold the exact target, not the last increment
                return MoveResult("reached", steps)
            if steps >= max_steps:
                return MoveResult("step_budget", steps)
            norm = float(np.linalg.norm(diff))
            self._command(current + diff * (min(speed, norm) / norm))
            p.stepSimulation(physicsClientId=c)
            steps += 1
            self.sim_steps += 1
            if self.on_step is not None:
                self.on_step()

    def movep(self, pose: Pose, speed: float = FAST_SPEED, max_steps: int | None = None,
              should_stop: Callable[[], bool] | None = None,
              until: Callable[[], bool] | None = None) -> MoveResult:
        """IK for the tip pose, then :meth:`movej`."""
        return self.movej(self.solve_ik(pose), speed, max_steps, should_stop, until)
