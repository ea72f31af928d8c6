"""Test helpers: a recording fake of the arm interface (motions + tool) and of the recovery
calls, for the tests of the MoveIt backend.

The only fakes in this package: MoveIt, franka_ros2 and a Franka cannot run here. Everything
above them (primitives, pose math, the MoveIt backend's sequencing, supervisor, recovery
order) runs for real against these.
"""

from __future__ import annotations

import threading

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Motion, MotionError, Scaling, Tool
from cliport_executor.franka.recovery import RecoveryCalls
from cliport_executor.request import ErrorCode


class RecordingArm(Motion, Tool):
    """Records every call as a tuple in ``log``. Knobs:

    ``grasp_ok``: what grasp() returns; ``fail_at``: {call index: MotionError} raised at that
    motion; ``block_at``: a motion index that blocks until :meth:`stop` (a trajectory that a
    cancel must cut short); ``contact_at``: linear motions that report contact.
    """

    def __init__(self, kind: str = "gripper", grasp_ok: bool = True, supports_contact=False):
        self.kind = kind
        self.supports_contact = supports_contact
        self.grasp_ok = grasp_ok
        self.log: list[tuple] = []
        self.fail_at: dict[int, MotionError] = {}
        self.block_at: int | None = None
        self.contact = True
        self.stops = 0
        self._stopped = threading.Event()
        self.blocking = threading.Event()
        self.motions = 0

    # Motion
    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        self._motion("free", target, scaling)

    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        self._motion("lin", target, scaling, stop_on_contact)
        return stop_on_contact and self.contact

    def _motion(self, kind: str, target: SE2Pose, scaling: Scaling, *extra) -> None:
        index = self.motions
        self.motions += 1
        self.log.append((kind, target, scaling, *extra))
        if index in self.fail_at:
            raise self.fail_at[index]
        if index == self.block_at:
            self.blocking.set()
            if not self._stopped.wait(10.0):
                raise AssertionError("nobody stopped the blocked motion")

    def stop(self) -> None:
        self.stops += 1
        self._stopped.set()
        self.log.append(("stop",))

    def resume(self) -> None:
        self._stopped.clear()
        self.log.append(("resume",))

    # Tool
    def open(self) -> None:
        self.log.append(("open",))

    def release(self) -> None:
        self.log.append(("release",))

    def close(self) -> None:
        self.log.append(("close",))

    def grasp(self) -> bool:
        self.log.append(("grasp",))
        return self.grasp_ok

    def home(self) -> None:
        self.log.append(("home",))

    def calls(self, *kinds: str) -> list[tuple]:
        return [c for c in self.log if c[0] in kinds]


class RecordingRecovery(RecoveryCalls):
    def __init__(self, fail_step: int | None = None) -> None:
        self.log: list[tuple] = []
        self.fail_step = fail_step

    def _step(self, n: int, *call) -> None:
        self.log.append(call)
        if n == self.fail_step:
            raise MotionError(ErrorCode.HARDWARE, f"step {n} refused")

    def error_recovery(self, timeout: float) -> None:
        self._step(1, "error_recovery", timeout)

    def activate_hardware(self, component: str, timeout: float) -> None:
        self._step(2, "activate_hardware", component, timeout)

    def activate_controllers(self, controllers: tuple[str, ...], timeout: float) -> None:
        self._step(3, "activate_controllers", controllers, timeout)
