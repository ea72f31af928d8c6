"""The simulated Franka Panda / FR3 arm: top-down IK, joint-space and straight-line motions.

The Panda URDF shipped in ``pybullet_data`` (with the Franka Hand) stands at the world origin,
which is the arm's ``base`` frame (panda_link0 / fr3_link0); the table top is z = 0. Poses are
the TCP's (``hand_tcp``, 0.1034 m along the hand's z) pointing straight down, turned by ``yaw``
about +z with the tool's x axis along the yaw, as in ``cliport_executor.franka.poses``.

* **IK**: PyBullet's null-space IK from a few seeds near the ready pose picks the elbow, then
  damped least squares on the exact kinematic model (:mod:`.kinematics`) takes the residual
  to well under 1 mm / 0.5 deg; a solution outside the active joint limits is rejected.
* **Motions** are bounded by simulation steps (a budget from the planned duration), poll a
  ``should_stop`` predicate every step and end at rest when stopped. The joints follow a
  smooth (quintic) profile with position control and the joints' torque limits, so a held
  object rides on real finger contacts.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data

from cliport_sim.franka import kinematics as kin
from cliport_sim.franka.config import FrankaConfig
from cliport_sim.franka.hand import FrankaHand

__all__ = ["FrankaArm", "Unreachable", "URDF_PATH"]

URDF_PATH = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
HAND_LINK = "panda_hand"
TORQUE_LIMITS = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)  # N m, both models

StopPredicate = Callable[[], bool]


class Unreachable(ValueError):
    """No top-down IK solution inside the active joint limits (or a line leaves them)."""


def _quintic(s: float) -> tuple[float, float]:
    """Position and velocity (per unit duration) of a rest-to-rest profile at phase ``s``."""
    s = min(max(s, 0.0), 1.0)
    return s**3 * (10 - 15 * s + 6 * s * s), 30 * s * s * (1 - s) ** 2


PEAK = 1.875  # peak / mean velocity of the quintic profile


class FrankaArm:
    """A Franka arm with the Franka Hand in one PyBullet client.

    ``step`` advances the physics by one step (default ``p.stepSimulation``); a world passes
    its own to render cameras during motions. The client's time step is set to ``1/hz``.
    """

    def __init__(self, client: int, config: FrankaConfig,
                 step: Callable[[], None] | None = None) -> None:
        self.client = client
        self.config = config
        self.limits = config.limits
        self.dt = 1.0 / config.hz
        self._step_fn = step or (lambda: p.stepSimulation(physicsClientId=client))
        self.sim_steps = 0
        self._stopped = threading.Event()
        p.setTimeStep(self.dt, physicsClientId=client)
        p.setPhysicsEngineParameter(numSolverIterations=config.solver_iterations,
                                    physicsClientId=client)
        self.body = p.loadURDF(str(URDF_PATH), (0, 0, 0), (0, 0, 0, 1), useFixedBase=True,
                               flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
        joints: dict[str, int] = {}
        links: dict[str, int] = {}
        for i in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, i, physicsClientId=client)
            joints[info[1].decode()] = i
            links[info[12].decode()] = i
        self.joint_ids = [joints[n] for n in JOINT_NAMES]
        # The simulated joints stop where the active model's do (the URDF has the Panda's
        # mechanical limits, narrower than the FR3's at joints 6 and 7).
        for j, lo, hi in zip(self.joint_ids, self.limits.lower, self.limits.upper, strict=True):
            p.changeDynamics(self.body, j, jointLowerLimit=lo, jointUpperLimit=hi,
                             physicsClientId=client)
        self.hand_link = links[HAND_LINK]
        self._dofs = [i for i in range(p.getNumJoints(self.body, physicsClientId=client))
                      if p.getJointInfo(self.body, i, physicsClientId=client)[2] != p.JOINT_FIXED]
        self.hand = FrankaHand(client, self.body, config.hand, self.step)
        self._ready = np.array(config.ready_joints, dtype=np.float64)
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def ready_joints(self) -> np.ndarray:
        return self._ready.copy()

    def step(self) -> None:
        """One physics step through the injected stepper."""
        self._step_fn()
        self.sim_steps += 1

    def reset(self, joints: Sequence[float] | None = None) -> None:
        """Joints to ``joints`` (default: the ready pose) at once, at rest, hand open."""
        q = self._ready if joints is None else self._check_joints(joints)
        for j, v in zip(self.joint_ids, q, strict=True):
            p.resetJointState(self.body, j, float(v), 0.0, physicsClientId=self.client)
        self._command(q, np.zeros(7))
        self.hand.reset()

    def joints(self) -> np.ndarray:
        states = p.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def joint_velocities(self) -> np.ndarray:
        states = p.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([s[1] for s in states])

    def tcp_transform(self) -> np.ndarray:
        """4x4 base-frame transform of the TCP, from the simulated hand link."""
        s = p.getLinkState(self.body, self.hand_link, computeForwardKinematics=True,
                           physicsClientId=self.client)
        T = np.eye(4)
        T[:3, :3] = np.array(p.getMatrixFromQuaternion(s[5])).reshape(3, 3)
        T[:3, 3] = np.array(s[4]) + T[:3, 2] * self.config.tcp_offset
        return T

    def tcp_pose(self) -> tuple[np.ndarray, float]:
        """(TCP position, yaw of the tool's x axis about +z)."""
        T = self.tcp_transform()
        return T[:3, 3].copy(), math.atan2(T[1, 0], T[0, 0])

    # ------------------------------------------------------------------ kinematics
    def ik(self, xyz: Sequence[float], yaw: float) -> np.ndarray | None:
        """Joints putting the TCP top-down at ``xyz`` turned by ``yaw``, inside the active
        limits with a residual <= the configured tolerances; None if there is none."""
        target = np.asarray(xyz, dtype=np.float64)
        if target.shape != (3,) or not np.all(np.isfinite(target)) or not math.isfinite(yaw):
            raise ValueError(f"IK target must be 3 finite numbers and a finite yaw, got "
                             f"{xyz!r}, {yaw!r}")
        R = kin.top_down_rotation(yaw)
        for seed in self._seeds(target, yaw):
            q = self._refine(self._null_space_ik(target, R, seed), target, R)
            if q is not None:
                return q
        return None

    def _seeds(self, xyz: np.ndarray, yaw: float) -> list[np.ndarray]:
        """Rest poses for the null-space IK: the ready pose facing the target with the wrist
        turned to the yaw, then with the elbow swung to either side."""
        lim = self.limits
        q1 = math.atan2(xyz[1], xyz[0])
        seeds = []
        for swing in (0.0, -0.6, 0.6, -1.2, 1.2):
            s = self._ready.copy()
            s[0] = q1 + swing
            s[2] = -swing
            s[6] = self._ready[6] + q1 - wrap(yaw)
            seeds.append(lim.clip(s))
        return seeds

    def _null_space_ik(self, xyz: np.ndarray, R: np.ndarray, rest: np.ndarray) -> np.ndarray:
        lim = self.limits
        n_extra = len(self._dofs) - 7  # the fingers
        lower = list(lim.lower) + [0.0] * n_extra
        upper = list(lim.upper) + [0.04] * n_extra
        ranges = [u - lo for lo, u in zip(lower, upper, strict=True)]
        rest_all = list(rest) + [0.02] * n_extra
        hand = xyz - R[:, 2] * self.config.tcp_offset
        q = p.calculateInverseKinematics(
            self.body, self.hand_link, hand.tolist(), _quat(R), lowerLimits=lower,
            upperLimits=upper, jointRanges=ranges, restPoses=rest_all,
            maxNumIterations=self.config.ik.seed_iterations, residualThreshold=1e-6,
            currentPositions=rest_all, physicsClientId=self.client)
        return np.array(q[:7])

    def _refine(self, q0: np.ndarray, xyz: np.ndarray, R: np.ndarray,
                iterations: int | None = None) -> np.ndarray | None:
        cfg = self.config
        q = kin.refine(q0, xyz, R, self.limits, cfg.tcp_offset,
                       iterations or cfg.ik.refine_iterations)
        pos_err, ang_err = kin.pose_error(q, xyz, R, cfg.tcp_offset)
        if (pos_err <= cfg.ik.position_tolerance
                and ang_err <= math.radians(cfg.ik.angle_tolerance)
                and self.limits.contains(q)):
            return q
        return None

    # ------------------------------------------------------------------ motions
    def stop(self) -> None:
        """Halt the running motion (it brakes to rest and holds); refuse motions until
        :meth:`resume`. Thread-safe: only sets a flag the motion loop polls every step."""
        self._stopped.set()

    def resume(self) -> None:
        self._stopped.clear()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def move_joints(self, target: Sequence[float], velocity_scaling: float,
                    should_stop: StopPredicate | None = None) -> bool:
        """Joint-space motion to ``target``; True if reached, False if stopped or out of its
        step budget (the arm then rests where it is)."""
        goal = self._check_joints(target)
        s = _check_scaling(velocity_scaling)
        start = self.joints()
        vmax = np.asarray(self.limits.velocity) * s
        duration = max(PEAK * float(np.max(np.abs(goal - start) / vmax)), self.dt)
        n = max(1, math.ceil(duration / self.dt))

        def reference(k: int) -> tuple[np.ndarray, np.ndarray]:
            pos, vel = _quintic(k / n)
            return start + (goal - start) * pos, (goal - start) * vel / duration

        return self._follow(reference, n, goal, should_stop)

    def move_pose(self, xyz: Sequence[float], yaw: float, velocity_scaling: float,
                  should_stop: StopPredicate | None = None) -> bool:
        """Joint-space motion to the IK solution of a top-down pose (raises
        :class:`Unreachable` when there is none)."""
        q = self.ik(xyz, yaw)
        if q is None:
            raise Unreachable(f"no top-down IK solution for xyz={tuple(np.round(xyz, 4))}, "
                              f"yaw={yaw:.3f} within the {self.config.model} limits")
        return self.move_joints(q, velocity_scaling, should_stop)

    def move_linear(self, xyz: Sequence[float], yaw: float, velocity_scaling: float,
                    should_stop: StopPredicate | None = None) -> bool:
        """Straight-line TCP motion (yaw turned along the way) to a top-down pose; True if
        reached. Every waypoint is solved before the arm moves; raises :class:`Unreachable`
        if one has no solution near the previous one."""
        s = _check_scaling(velocity_scaling)
        goal = np.asarray(xyz, dtype=np.float64)
        if goal.shape != (3,) or not np.all(np.isfinite(goal)) or not math.isfinite(yaw):
            raise ValueError(f"target must be 3 finite numbers and a finite yaw, got "
                             f"{xyz!r}, {yaw!r}")
        if self.stopped:
            return False
        waypoints = self.plan_linear(goal, yaw, s)
        n = len(waypoints) - 1
        vel = np.diff(waypoints, axis=0) / self.dt

        def reference(k: int) -> tuple[np.ndarray, np.ndarray]:
            return waypoints[k], (vel[k - 1] if 0 < k <= n - 1 else np.zeros(7))

        return self._follow(reference, n, waypoints[-1], should_stop)

    def plan_linear(self, xyz: np.ndarray, yaw: float, velocity_scaling: float) -> np.ndarray:
        """Joint waypoints (one per physics step, quintic timing) of a straight TCP line from
        the current pose; raises :class:`Unreachable`."""
        mc = self.config.motion
        q = self.joints()
        T = kin.tcp_transform(q, self.config.tcp_offset)
        p0, yaw0 = T[:3, 3], math.atan2(T[1, 0], T[0, 0])
        dyaw = wrap(yaw - yaw0)
        dist = float(np.linalg.norm(xyz - p0))
        duration = PEAK * max(dist / (mc.max_linear_speed * velocity_scaling),
                              abs(dyaw) / (mc.max_angular_speed * velocity_scaling), self.dt)
        n = max(1, math.ceil(duration / self.dt))
        out = [q]
        for k in range(1, n + 1):
            frac, _ = _quintic(k / n)
            R = kin.top_down_rotation(yaw0 + frac * dyaw)
            nxt = self._refine(out[-1], p0 + frac * (xyz - p0), R, iterations=20)
            if nxt is None or np.abs(nxt - out[-1]).max() > 0.2:
                raise Unreachable(f"the straight line to xyz={tuple(np.round(xyz, 4))}, "
                                  f"yaw={yaw:.3f} leaves the reachable top-down poses of the "
                                  f"{self.config.model} ({k}/{n})")
            out.append(nxt)
        return np.array(out)

    def _follow(self, reference: Callable[[int], tuple[np.ndarray, np.ndarray]], n: int,
                goal: np.ndarray, should_stop: StopPredicate | None) -> bool:
        """Track ``reference(k)`` for k = 1..n, then hold ``goal`` until reached."""
        mc = self.config.motion
        budget = math.ceil(mc.budget_factor * n + mc.budget_margin / self.dt)
        for k in range(1, budget + 1):
            if self._stopped.is_set() or (should_stop is not None and should_stop()):
                self.brake()
                return False
            if k <= n:
                q_ref, v_ref = reference(k)
            else:
                q_ref, v_ref = goal, np.zeros(7)
                if np.abs(self.joints() - goal).max() < mc.joint_tolerance:
                    return True
            self._command(q_ref, v_ref)
            self.step()
        self.brake()
        return False

    def brake(self) -> None:
        """Hold the current joints and step until the arm rests (at most ``brake_time``)."""
        mc = self.config.motion
        self._command(self.joints(), np.zeros(7))
        for _ in range(math.ceil(mc.brake_time / self.dt)):
            if np.abs(self.joint_velocities()).max() < mc.rest_velocity:
                break
            self.step()
        self._command(self.joints(), np.zeros(7))

    def _command(self, q: np.ndarray, v: np.ndarray) -> None:
        mc = self.config.motion
        p.setJointMotorControlArray(
            self.body, self.joint_ids, p.POSITION_CONTROL, targetPositions=q.tolist(),
            targetVelocities=v.tolist(), forces=list(TORQUE_LIMITS),
            positionGains=[mc.position_gain] * 7, velocityGains=[mc.velocity_gain] * 7,
            physicsClientId=self.client)

    def _check_joints(self, q: Sequence[float]) -> np.ndarray:
        arr = np.asarray(q, dtype=np.float64)
        if arr.shape != (7,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"joints must be 7 finite numbers, got {q!r}")
        if not self.limits.contains(arr):
            raise ValueError(f"joints {np.round(arr, 4).tolist()} lie outside the "
                             f"{self.config.model} limits")
        return arr


def wrap(a: float) -> float:
    """Angle in [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _quat(R: np.ndarray) -> list[float]:
    """xyzw quaternion of a rotation matrix (Shepperd's method)."""
    t = np.trace(R)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, s / 4]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = math.sqrt(1.0 + R[i, i] - R[j, j] - R[k, k]) * 2
        q = [0.0, 0.0, 0.0, (R[k, j] - R[j, k]) / s]
        q[i] = s / 4
        q[j] = (R[j, i] + R[i, j]) / s
        q[k] = (R[k, i] + R[i, k]) / s
    return q


def _check_scaling(s: float) -> float:
    if not (math.isfinite(s) and 0.0 < s <= 1.0):
        raise ValueError(f"velocity_scaling must be in (0, 1], got {s!r}")
    return float(s)
