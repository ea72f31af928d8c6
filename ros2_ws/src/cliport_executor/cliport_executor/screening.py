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


class ScreeningVerdict(enum.Enum):
    """What the server does with a goal."""

    ACCEPT = "accept"
    REJECT = "reject"  # malformed: the ROS action is refused (the log says why)
    ABORT = "abort"  # well-formed but not executable: accepted, then aborted with the reason


@dataclass(frozen=True)
class ScreenedGoal:
    """A goal after screening: the verdict, the decoded request (None if malformed) and,
    unless accepted, the error code and the reason."""

    verdict: ScreeningVerdict
    request: PickPlaceRequest | None = None
    code: ErrorCode = ErrorCode.NONE
    message: str = ""


def screen_goal(goal, config: ExecutorConfig) -> ScreenedGoal:
    """Decode and check a goal message; total (no exception escapes)."""
    try:
        req = request_from_goal(goal, config.max_tilt)
        check_goal(req, config)
        req = dataclasses.replace(req, primitive=Primitive(req.primitive))
    except GoalError as exc:
        return ScreenedGoal(ScreeningVerdict.REJECT, None, exc.code, str(exc))
    except Exception as exc:  # noqa: BLE001 - a goal we cannot even decode is malformed
        return ScreenedGoal(ScreeningVerdict.REJECT, None, ErrorCode.INVALID_GOAL,
                            f"cannot decode the goal: {type(exc).__name__}: {exc}")
    try:
        check_workspace(req, config)
    except GoalError as exc:
        verdict = (ScreeningVerdict.REJECT if config.reject_out_of_workspace
                   else ScreeningVerdict.ABORT)
        return ScreenedGoal(verdict, req, exc.code, str(exc))
    return ScreenedGoal(ScreeningVerdict.ACCEPT, req)
