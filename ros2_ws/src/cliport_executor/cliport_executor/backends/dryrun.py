"""A backend that walks through the primitive's phases without moving anything.

Used to bring up and test the node graph (perception -> policy -> executor) before an
arm is attached, and to check the action protocol end to end: feedback, cancel, result.
"""

from __future__ import annotations

from cliport_executor.backend import ArmBackend, CancelToken, FeedbackFn, register_backend
from cliport_executor.config import ExecutorConfig
from cliport_executor.request import ErrorCode, Outcome, Phase, PickPlaceRequest, Primitive

PICK_PLACE_PHASES = (Phase.APPROACH, Phase.DESCEND, Phase.GRASP, Phase.LIFT, Phase.TRANSFER,
                     Phase.PLACE, Phase.RETREAT)
PUSH_PHASES = (Phase.APPROACH, Phase.DESCEND, Phase.TRANSFER, Phase.RETREAT)


@register_backend("dryrun")
class DryRunBackend(ArmBackend):
    def __init__(self, config: ExecutorConfig) -> None:
        self.phase_duration = config.dryrun.phase_duration
        self.connected = False

    def connect(self) -> None:
        self.connected = True

    def execute(self, request: PickPlaceRequest, feedback: FeedbackFn,
                cancel: CancelToken) -> Outcome:
        if not self.connected:
            return Outcome.fail(ErrorCode.HARDWARE, "dry-run backend is not connected")
        phases = PUSH_PHASES if request.primitive == Primitive.PUSH else PICK_PLACE_PHASES
        scale = request.speed_scaling or 1.0
        for i, phase in enumerate(phases):
            feedback(phase, i / len(phases))
            if cancel.wait(self.phase_duration / scale):
                return Outcome.fail(ErrorCode.CANCELED, f"canceled during {phase.name.lower()}")
        feedback(phases[-1], 1.0)
        return Outcome.ok()

    def disconnect(self) -> None:
        self.connected = False
