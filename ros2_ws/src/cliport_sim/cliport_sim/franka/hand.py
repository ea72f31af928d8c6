"""The Franka Hand in simulation: two prismatic fingers with franka_gripper's semantics.

Grasps are physical: each finger is position-controlled towards closed with the grasp force
as its motor force limit, and the object is held only by finger contact and friction (no
constraint, no attachment). ``grasp`` succeeds, like the real action, iff the fingers stop
with the measured width within ``[width - epsilon_inner, width + epsilon_outer]``; the fingers
keep squeezing with that force afterwards, so a held object stays held while the arm moves.
As on the real hand the two fingers move together (a gear constraint couples them).
``homing`` opens the fingers fully (a simulated hand needs no calibration).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pybullet as p

from cliport_sim.franka.config import HandConfig

FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
MOVE_TOLERANCE = 0.0005  # m: a move has reached its width when this close


class FrankaHand:
    """The fingers of the Franka Hand on ``body``; ``step`` advances the physics one step."""

    def __init__(self, client: int, body: int, config: HandConfig,
                 step: Callable[[], None]) -> None:
        self.client = client
        self.body = body
        self.config = config
        self._step = step
        self._stopped = threading.Event()
        by_name = {p.getJointInfo(body, i, physicsClientId=client)[1].decode(): i
                   for i in range(p.getNumJoints(body, physicsClientId=client))}
        self.finger_ids = [by_name[n] for n in FINGER_JOINTS]
        self.dt = p.getPhysicsEngineParameters(physicsClientId=client)["fixedTimeStep"]
        for j in self.finger_ids:
            p.changeDynamics(body, j, lateralFriction=config.finger_friction,
                             spinningFriction=config.finger_spinning_friction,
                             frictionAnchor=True, physicsClientId=client)
        # The real fingers share one drive (a rack and pinion): a gear constraint keeps
        # them symmetric, so a squeezed object cannot push both fingers sideways.
        self._gear = p.createConstraint(body, self.finger_ids[0], body, self.finger_ids[1],
                                        p.JOINT_GEAR, (1, 0, 0), (0, 0, 0), (0, 0, 0),
                                        physicsClientId=client)
        p.changeConstraint(self._gear, gearRatio=-1, erp=0.1, maxForce=config.coupling_force,
                           physicsClientId=client)
        self.last_force = 0.0  # N: force limit of the finger motors now

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Fingers fully open at once, at rest."""
        half = self.config.max_width / 2.0
        for j in self.finger_ids:
            p.resetJointState(self.body, j, half, 0.0, physicsClientId=self.client)
        self._drive(half, self.config.max_speed, self.config.move_force)

    def width(self) -> float:
        """Measured distance between the fingers (m)."""
        states = p.getJointStates(self.body, self.finger_ids, physicsClientId=self.client)
        return float(states[0][0] + states[1][0])

    def finger_speed(self) -> float:
        states = p.getJointStates(self.body, self.finger_ids, physicsClientId=self.client)
        return float(max(abs(states[0][1]), abs(states[1][1])))

    def stop(self) -> None:
        """Abort a move or grasp in flight (the fingers hold where they are; a grasp keeps
        squeezing). Thread-safe: sets a flag the action loop polls every step."""
        self._stopped.set()

    def resume(self) -> None:
        self._stopped.clear()

    # ------------------------------------------------------------------ actions
    def homing(self) -> bool:
        """Open fully (the real action also calibrates the width)."""
        return self.move(self.config.max_width, self.config.max_speed)

    def move(self, width: float, speed: float) -> bool:
        """Move the fingers to ``width`` at ``speed``; True if reached (False if blocked,
        stopped or timed out)."""
        self._check(width, speed)
        self._stopped.clear()
        self._drive(width / 2.0, speed, self.config.move_force)
        reason = self._run(lambda: abs(self.width() - width) < MOVE_TOLERANCE)
        if reason != "done":
            self._drive(self.width() / 2.0, speed, self.config.move_force)  # hold here
        return reason == "done"

    def grasp(self, width: float, speed: float, force: float, epsilon_inner: float = 0.005,
              epsilon_outer: float = 0.005) -> bool:
        """Close at ``speed`` with ``force`` until the fingers stall; True iff the measured
        width lies within ``[width - epsilon_inner, width + epsilon_outer]``."""
        self._check(width, speed)
        if not (math.isfinite(force) and 0.0 < force <= self.config.max_force):
            raise ValueError(f"grasp force must be in (0, {self.config.max_force}] N, "
                             f"got {force!r}")
        if not (epsilon_inner >= 0.0 and epsilon_outer >= 0.0):
            raise ValueError(f"grasp epsilons must be >= 0, got {epsilon_inner!r}, "
                             f"{epsilon_outer!r}")
        self._stopped.clear()
        self._drive(0.0, speed, force)
        reason = self._run(lambda: self.width() < MOVE_TOLERANCE)
        if reason == "stopped":
            self._drive(self.width() / 2.0, speed, force)  # hold here, still squeezing
            return False
        w = self.width()
        return width - epsilon_inner <= w <= width + epsilon_outer

    # ------------------------------------------------------------------ internals
    def _run(self, done: Callable[[], bool]) -> str:
        """Step until ``done``, the fingers stall, a stop or the timeout."""
        cfg = self.config
        still_needed = max(1, math.ceil(cfg.stall_time / self.dt))
        still = 0
        for k in range(math.ceil(cfg.timeout / self.dt)):
            if self._stopped.is_set():
                return "stopped"
            if done():
                return "done"
            self._step()
            # the first steps accelerate from rest: they never count as a stall
            still = still + 1 if k > still_needed and self.finger_speed() < cfg.stall_speed \
                else 0
            if still >= still_needed:
                return "done" if done() else "stalled"
        return "timeout"

    def _drive(self, half_width: float, speed: float, force: float) -> None:
        self.last_force = force
        for j in self.finger_ids:
            p.setJointMotorControl2(self.body, j, p.POSITION_CONTROL, targetPosition=half_width,
                                    force=force, maxVelocity=speed / 2.0,
                                    physicsClientId=self.client)

    def _check(self, width: float, speed: float) -> None:
        cfg = self.config
        if not (math.isfinite(width) and 0.0 <= width <= cfg.max_width):
            raise ValueError(f"width must be in [0, {cfg.max_width}] m, got {width!r}")
        if not (math.isfinite(speed) and 0.0 < speed <= cfg.max_speed):
            raise ValueError(f"speed must be in (0, {cfg.max_speed}] m/s, got {speed!r}")

