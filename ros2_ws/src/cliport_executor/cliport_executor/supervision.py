"""One goal's supervision: phases, feedback, cancel, preemption and timeouts.

Backends never look at ROS. They report phases to a :class:`Supervisor` and ask it, once per
control period (a simulation step) or between motions, whether to stop. The server stops a
goal through it (cancel, preemption); its own deadlines stop a goal whose phase overran.
Backends with blocking calls (a MoveIt trajectory execution) register a stop listener, which
the supervisor calls from whichever thread decided to stop, so motion halts even while the
backend's thread is blocked. A watchdog timer fires the deadline without any polling.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from cliport_executor.config import Timeouts
from cliport_executor.request import ErrorCode, Outcome, Phase

FeedbackFn = Callable[[Phase, float], None]
Clock = Callable[[], float]


class StopReason(enum.Enum):
    CANCELED = "canceled"
    PREEMPTED = "preempted"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"


ERROR_FOR_STOP = {
    StopReason.CANCELED: ErrorCode.CANCELED,
    StopReason.PREEMPTED: ErrorCode.CANCELED,
    StopReason.TIMEOUT: ErrorCode.TIMEOUT,
    StopReason.SHUTDOWN: ErrorCode.HARDWARE,
}


class Stopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :meth:`Supervisor.check` once the goal must stop."""

    def __init__(self, reason: StopReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Supervisor:
    """Tracks one goal. Thread-safe: the server cancels from its cancel callback while the
    backend runs on the execute thread."""

    def __init__(self, feedback: FeedbackFn | None = None, timeouts: Timeouts | None = None,
                 *, feedback_period: float = 0.0, clock: Clock = time.monotonic,
                 watchdog: bool = True) -> None:
        self._feedback = feedback
        self.timeouts = timeouts or Timeouts()
        self._period = feedback_period
        self._clock = clock
        self._watchdog = watchdog
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._reason: StopReason | None = None
        self._message = ""
        self._listeners: list[Callable[[], None]] = []
        self._timer: threading.Timer | None = None
        self._plan: tuple[Phase, ...] = ()
        self._progress = 0.0
        self.phase_now: Phase | None = None
        self.phases_seen: list[Phase] = []
        self._started = clock()
        self._phase_deadline = float("inf")
        self._last_feedback = -float("inf")

    # ------------------------------------------------------------------ phases / feedback
    def begin(self, plan: Sequence[Phase]) -> None:
        """The phases this primitive expects, for progress (a later phase jumps ahead)."""
        self._plan = tuple(plan)
        self._started = self._clock()

    def enter(self, phase: Phase) -> None:
        """Report a new phase (feedback + its deadline). Never raises: safe in callbacks."""
        now = self._clock()
        if phase in self._plan:
            self._progress = max(self._progress, self._plan.index(phase) / len(self._plan))
        self.phase_now = phase
        self.phases_seen.append(phase)
        limit = self.timeouts.for_phase(phase.name.lower())
        self._phase_deadline = now + limit
        self._arm_watchdog(min(limit, self._goal_deadline() - now))
        self._publish(phase, self._progress, now)

    def phase(self, phase: Phase) -> None:
        """:meth:`enter` then :meth:`check`: for backends that run motions one by one."""
        self.check()
        self.enter(phase)

    def finish(self) -> None:
        """Final feedback: the last phase, progress 1."""
        self._cancel_watchdog()
        if self.phase_now is not None:
            self._progress = 1.0
            self._publish(self.phase_now, 1.0, self._clock())

    @property
    def progress(self) -> float:
        return self._progress

    def _publish(self, phase: Phase, progress: float, now: float) -> None:
        self._last_feedback = now
        if self._feedback is not None:
            self._feedback(phase, progress)

    # ------------------------------------------------------------------ stopping
    def request_stop(self, reason: StopReason, message: str = "") -> None:
        """Stop the goal (first reason wins) and call the stop listeners."""
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            self._message = message or reason.value
            listeners = list(self._listeners)
        self._stop_event.set()
        self._cancel_watchdog()
        for fn in listeners:
            with contextlib.suppress(Exception):  # a listener failing must not block a stop
                fn()

    def cancel(self) -> None:
        self.request_stop(StopReason.CANCELED, "canceled by the client")

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    @property
    def reason(self) -> StopReason | None:
        return self._reason

    def should_stop(self) -> bool:
        """Poll once per control period: deadlines, periodic feedback, stop requests."""
        if self._stop_event.is_set():
            return True
        now = self._clock()
        self._check_deadlines(now)
        if (self._period > 0 and self.phase_now is not None
                and now - self._last_feedback >= self._period):
            self._publish(self.phase_now, self._progress, now)
        return self._stop_event.is_set()

    def check(self) -> None:
        if self.should_stop():
            raise Stopped(self._reason or StopReason.CANCELED, self._message)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (deadlines still apply); True if the goal must stop."""
        end = self._clock() + seconds
        while True:
            remaining = end - self._clock()
            if self.should_stop():
                return True
            if remaining <= 0:
                return False
            self._stop_event.wait(min(remaining, 0.05))

    @contextlib.contextmanager
    def on_stop(self, fn: Callable[[], None]) -> Iterator[None]:
        """Call ``fn`` if the goal is stopped while the block runs (or already was)."""
        with self._lock:
            self._listeners.append(fn)
            already = self._reason is not None
        if already:
            with contextlib.suppress(Exception):
                fn()
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(fn)

    def stop_outcome(self) -> Outcome:
        """The result for a stopped goal: CANCELED (cancel, preemption) or TIMEOUT."""
        reason = self._reason or StopReason.CANCELED
        where = f" during {self.phase_now.name.lower()}" if self.phase_now is not None else ""
        return Outcome.fail(ERROR_FOR_STOP[reason], f"{self._message}{where}")

    # ------------------------------------------------------------------ deadlines
    def _goal_deadline(self) -> float:
        return self._started + self.timeouts.goal

    def _check_deadlines(self, now: float) -> None:
        if now >= self._goal_deadline():
            self.request_stop(StopReason.TIMEOUT,
                              f"the goal exceeded its {self.timeouts.goal:g} s timeout")
        elif now >= self._phase_deadline and self.phase_now is not None:
            limit = self.timeouts.for_phase(self.phase_now.name.lower())
            self.request_stop(StopReason.TIMEOUT, f"phase {self.phase_now.name.lower()} "
                                                  f"exceeded its {limit:g} s timeout")

    def _arm_watchdog(self, delay: float) -> None:
        if not self._watchdog:
            return
        self._cancel_watchdog()
        timer = threading.Timer(max(delay, 0.0) + 1e-3, lambda: self._check_deadlines(
            self._clock()))
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _cancel_watchdog(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        """Release the watchdog (the goal is over)."""
        self._cancel_watchdog()
