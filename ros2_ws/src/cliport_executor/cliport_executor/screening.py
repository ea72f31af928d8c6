"""Screening an incoming ``PickPlace`` goal message: accept, reject, or accept-then-abort.

One total function for the server's goal callback. It never raises, whatever the message
holds (the fuzz test throws arbitrary field values at it), because an exception in a goal
callback would leave the client without an answer.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from cliport_executor.config import ExecutorConfig
from cliport_executor.conversions import request_from_goal
from cliport_executor.request import ErrorCode, PickPlaceRequest, Primitive
from cliport_executor.validation import GoalError, check_goal, check_workspace


class Decision(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"  # malformed: the ROS action is refused (the log says why)
    ABORT = "abort"  # well-formed but not executable: accepted, then aborted with the reason


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    request: PickPlaceRequest | None = None
    code: ErrorCode = ErrorCode.NONE
    message: str = ""


def screen_goal(goal, config: ExecutorConfig) -> Verdict:
    """Decode and check a goal message; total (no exception escapes)."""
    try:
        req = request_from_goal(goal, config.max_tilt)
        check_goal(req, config)
        req = dataclasses.replace(req, primitive=Primitive(req.primitive))
    except GoalError as exc:
        return Verdict(Decision.REJECT, None, exc.code, str(exc))
    except Exception as exc:  # noqa: BLE001 - a goal we cannot even decode is malformed
        return Verdict(Decision.REJECT, None, ErrorCode.INVALID_GOAL,
                       f"cannot decode the goal: {type(exc).__name__}: {exc}")
    try:
        check_workspace(req, config)
    except GoalError as exc:
        decision = Decision.REJECT if config.reject_out_of_workspace else Decision.ABORT
        return Verdict(decision, req, exc.code, str(exc))
    return Verdict(Decision.ACCEPT, req)
