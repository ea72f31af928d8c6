"""Pick-and-place and push for real arms: pure sequences over :mod:`arm_interface`.

The simulator has its own primitives (cliport_sim.primitives, joint-space moves checked every
simulation step). A real arm gets these instead: a collision-aware free motion (OMPL) to a
pre-grasp pose at a safe travel height, straight-line (Pilz LIN) descents, grasps and
retreats near the table, and a free transfer between pick and place at that height. All
heights and scalings come from :class:`~cliport_executor.config.MotionConfig`.

Safety, by construction:

* the travel height is at least ``min_clearance`` above both poses, and no target goes
  below ``min_tcp_z`` (the fingertips never reach the table top);
* a goal's ``speed_scaling`` multiplies the configured scalings, so it can only slow down;
* the supervisor is checked before and after every motion; a stop (cancel, preemption,
  timeout) or a failed motion stops the arm where it is and keeps a held object held;
* a grasp that holds nothing opens the tool and backs straight up: the arm never lingers
  at the table.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Motion, MotionError, Scaling, Tool
from cliport_executor.config import MotionConfig
from cliport_executor.request import PICK_PLACE_PHASES, PUSH_PHASES, ErrorCode, Outcome, Phase
from cliport_executor.supervision import Stopped, Supervisor


def travel_height(cfg: MotionConfig, *poses: SE2Pose) -> float:
    """z for moves between poses: the configured height, or higher above tall targets."""
    return max(cfg.transfer_height, max(p.z for p in poses) + cfg.min_clearance)


def scalings(cfg: MotionConfig, speed_scaling: float) -> tuple[Scaling, Scaling]:
    """(free, linear) scalings; ``speed_scaling`` in (0, 1] lowers them, 0 keeps them."""
    s = speed_scaling if 0.0 < speed_scaling <= 1.0 else 1.0
    return (Scaling(cfg.velocity_scaling * s, cfg.acceleration_scaling * s),
            Scaling(cfg.linear_velocity_scaling * s, cfg.linear_acceleration_scaling * s))


class _SupervisedMotions:
    """One primitive's motions with the supervisor checked around each of them."""

    def __init__(self, motion: Motion, tool: Tool, cfg: MotionConfig, sup: Supervisor,
                 speed_scaling: float) -> None:
        self.motion, self.tool, self.cfg, self.sup = motion, tool, cfg, sup
        self.free, self.linear = scalings(cfg, speed_scaling)

    def clamp(self, pose: SE2Pose) -> SE2Pose:
        return pose.at_z(max(pose.z, self.cfg.min_tcp_z))

    def free_to(self, pose: SE2Pose) -> None:
        self.sup.check()
        self.motion.move_free(self.clamp(pose), self.free)
        self.sup.check()

    def line_to(self, pose: SE2Pose, stop_on_contact: bool = False) -> bool:
        self.sup.check()
        touched = self.motion.move_linear(self.clamp(pose), self.linear, stop_on_contact)
        self.sup.check()
        return touched

    def tool_action(self, action) -> bool:
        self.sup.check()
        result = action()
        self.sup.check()
        return bool(result)

    def descend(self, pose: SE2Pose, target_z: float) -> None:
        """Suction: down until contact (at most ``max_below`` under the pose); gripper: to
        ``target_z``."""
        if self.tool.kind == "suction":
            if not self.motion.supports_contact:
                raise MotionError(ErrorCode.PLANNING_FAILED,
                                  "a suction tool needs contact-sensing linear motions, "
                                  "which this arm does not provide")
            self.line_to(pose.at_z(pose.z - self.cfg.max_below), stop_on_contact=True)
        else:
            self.line_to(pose.at_z(target_z))

    def guarded(self, body) -> Outcome:
        """Run ``body``; map stops and failures to outcomes with the arm at rest."""
        try:
            return body()
        except Stopped:
            self.halt()
            return self.sup.stop_outcome()
        except MotionError as exc:
            self.halt()
            if self.sup.stopping:  # the stop cut the motion short: report the stop
                return self.sup.stop_outcome()
            where = self.sup.phase_now.name.lower() if self.sup.phase_now else "start"
            return Outcome.fail(exc.code, f"{where}: {exc}")

    def halt(self) -> None:
        for fn in (self.motion.stop, self.tool.stop):
            with contextlib.suppress(Exception):  # stopping must go on to the next part
                fn()


def pick_place(motion: Motion, tool: Tool, pick: SE2Pose, place: SE2Pose, cfg: MotionConfig,
               sup: Supervisor, speed_scaling: float = 0.0) -> Outcome:
    """Pick at ``pick`` (its z: the object's top) and place so that point ends at ``place``.

    approach: pre-grasp opening, free motion to pre-grasp (pick at travel height); descend: straight
    down (gripper: ``grasp_depth`` under the top; suction: until contact); grasp; lift:
    straight up; transfer: free motion to pre-place; place: straight down (the grasp point
    ``release_height`` above the place), release; retreat: straight up.
    """
    run = _SupervisedMotions(motion, tool, cfg, sup, speed_scaling)
    travel = travel_height(cfg, pick, place)
    sup.begin(PICK_PLACE_PHASES)

    def body() -> Outcome:
        sup.phase(Phase.APPROACH)
        run.tool_action(tool.pregrasp)
        run.free_to(pick.at_z(travel))
        sup.phase(Phase.DESCEND)
        run.descend(pick, pick.z - cfg.grasp_depth)
        sup.phase(Phase.GRASP)
        if not run.tool_action(tool.grasp):
            run.tool_action(tool.pregrasp)  # no wider than the fingers came down
            sup.phase(Phase.RETREAT)
            run.line_to(pick.at_z(travel))
            sup.finish()
            return Outcome.fail(ErrorCode.GRASP_FAILED, "the grasp held nothing; the tool "
                                                        "opened and the arm backed up")
        sup.phase(Phase.LIFT)
        run.line_to(pick.at_z(travel))
        sup.phase(Phase.TRANSFER)
        run.free_to(place.at_z(travel))
        sup.phase(Phase.PLACE)
        run.descend(place, place.z - cfg.grasp_depth + cfg.release_height)
        run.tool_action(tool.release)
        sup.phase(Phase.RETREAT)
        run.line_to(place.at_z(travel))
        sup.finish()
        return Outcome.ok()

    return run.guarded(body)


def push_stroke(start: SE2Pose, end: SE2Pose, cfg: MotionConfig
                ) -> tuple[SE2Pose, SE2Pose]:
    """The stroke's first and last TCP poses at ``push_z``, tool yaw along the push.

    As the simulator's push (docs/design.md#push-primitive): it starts ``push_lead_in`` before the
    start and stops ``push_stop_short`` before the end; a push shorter than the difference goes down
    and up in place.
    """
    dx, dy = end.x - start.x, end.y - start.y
    length = math.hypot(dx, dy)
    if length < 1e-6:
        raise MotionError(ErrorCode.INVALID_GOAL, "push start and end coincide")
    ux, uy = dx / length, dy / length
    yaw = math.atan2(uy, ux)
    x0, y0 = start.x - cfg.push_lead_in * ux, start.y - cfg.push_lead_in * uy
    stroke = max(0.0, length + cfg.push_lead_in - cfg.push_stop_short)
    return (SE2Pose(x0, y0, cfg.push_z, yaw),
            SE2Pose(x0 + stroke * ux, y0 + stroke * uy, cfg.push_z, yaw))


def push(motion: Motion, tool: Tool, start: SE2Pose, end: SE2Pose, cfg: MotionConfig,
         sup: Supervisor, speed_scaling: float = 0.0,
         stroke_yaw: Callable[[float], float] | None = None) -> Outcome:
    """Sweep from ``start`` to ``end`` (only their x-y count) with the closed tool.

    approach: close, free motion over the stroke's start; descend: straight down to
    ``push_z``; transfer: the straight stroke; retreat: straight up. ``stroke_yaw`` maps the
    push direction to the tool yaw (default: the direction itself).
    """
    run = _SupervisedMotions(motion, tool, cfg, sup, speed_scaling)
    sup.begin(PUSH_PHASES)

    def body() -> Outcome:
        first, last = push_stroke(start, end, cfg)
        if stroke_yaw is not None:
            yaw = stroke_yaw(first.yaw)
            first, last = (SE2Pose(p.x, p.y, p.z, yaw) for p in (first, last))
        travel = travel_height(cfg, first, last)
        sup.phase(Phase.APPROACH)
        run.tool_action(tool.close)
        run.free_to(first.at_z(travel))
        sup.phase(Phase.DESCEND)
        run.line_to(first)
        sup.phase(Phase.TRANSFER)
        run.line_to(last)
        sup.phase(Phase.RETREAT)
        run.line_to(last.at_z(travel))
        sup.finish()
        return Outcome.ok()

    return run.guarded(body)
