"""A backend that walks through the primitive's phases without moving anything.

Used to bring up and test the node graph (perception -> policy -> executor) before an
arm is attached, and to check the action protocol end to end: feedback, cancel, result.
"""

from __future__ import annotations

from cliport_executor.backend import ArmBackend, register_backend
from cliport_executor.config import ExecutorConfig
from cliport_executor.request import ErrorCode, Outcome, PickPlaceRequest, phases_of
from cliport_executor.supervision import Supervisor


@register_backend("dryrun")
class DryRunBackend(ArmBackend):
    def __init__(self, config: ExecutorConfig, **_resources) -> None:
        self.phase_duration = config.dryrun.phase_duration
        self.connected = False

    def connect(self) -> None:
        self.connected = True

    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        if not self.connected:
            return Outcome.fail(ErrorCode.HARDWARE, "dry-run backend is not connected")
        phases = phases_of(request.primitive)
        supervisor.begin(phases)
        scale = request.speed_scaling or 1.0
        for phase in phases:
            supervisor.enter(phase)
            if supervisor.wait(self.phase_duration / scale):
                return supervisor.stop_outcome()
        supervisor.finish()
        return Outcome.ok()

    def disconnect(self) -> None:
        self.connected = False
