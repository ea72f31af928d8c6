"""The policy node's jobs: one instruction decided at a time, on one worker thread.

Plain Python (no rclpy), so the scheduling rules are unit-tested without DDS; the node only
converts messages and publishes what :class:`JobScheduler` reports.

* The worker first runs ``load``. Until it returns, a new job waits as if the worker were
  busy; if it raises, every waiting and every later job is refused with the reason.
* A job submitted while the scheduler is free is ``accepted`` and decided next. One
  submitted while it is busy (loading, deciding, or a decided job's goal executing) is
  ``queued`` with ``busy_policy: queue_latest`` (a newer one replaces it: ``superseded``),
  or ``refused`` with ``reject``.
* ``decide(job)`` runs on the worker. A :class:`~cliport_policy.node_config.Refusal` it
  raises is reported as ``refused`` (warning), any other exception as ``refused`` (error);
  either way the worker goes on with the next job.
* A decided job holds the scheduler while its goal executes: ``decide`` calls
  :meth:`JobScheduler.begin_execution` before sending the goal, and whoever learns that the
  goal ended calls :meth:`JobScheduler.end_execution`.

Every event goes to ``report(level, event, job, **fields)`` (``level``: info, warning or
error; ``job`` None for ``ready`` and ``load_failed``), called with no lock held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cliport_policy.node_config import BUSY_POLICIES, Refusal, preview

SHUTDOWN_REASON = "the policy node is shutting down"
PREVIEW = 40  # characters of another job's instruction quoted in a busy reason


@dataclass(eq=False)
class Job:
    """One instruction to decide; ``id`` numbers every instruction the node received."""

    id: int
    instruction: str


class Report(Protocol):
    def __call__(self, level: str, event: str, job: Job | None, **fields: Any) -> None: ...


class JobScheduler:
    """Accepts, queues or refuses jobs and decides them one at a time on a worker thread.

    ``load()`` returns the fields of the ``ready`` event; ``decide(job)`` acts on one job.
    """

    def __init__(self, load: Callable[[], dict[str, Any]], decide: Callable[[Job], None],
                 report: Report, busy_policy: str = "queue_latest") -> None:
        if busy_policy not in BUSY_POLICIES:
            raise ValueError(f"busy_policy must be one of {BUSY_POLICIES}, got {busy_policy!r}")
        self._load, self._decide, self._report = load, decide, report
        self._busy_policy = busy_policy
        self._cv = threading.Condition()  # guards the fields below
        self._state = "loading"  # loading | ready | failed
        self._problem = ""  # why loading failed
        self._next: Job | None = None  # accepted while free: decided next, never superseded
        self._waiting: Job | None = None  # queued while busy (queue_latest)
        self._deciding: Job | None = None
        self._executing: Job | None = None
        self.stopping = threading.Event()  # set by stop(); wait on it instead of sleeping
        self._worker = threading.Thread(target=self._run, name="policy-worker", daemon=True)

    def start(self) -> None:
        """Start the worker: load, then decide jobs until :meth:`stop`."""
        self._worker.start()

    # ------------------------------------------------------------------ jobs in
    def submit(self, job: Job, check: Callable[[], None] | None = None) -> None:
        """Accept, queue or refuse ``job`` (each reported). ``check`` raises a Refusal when
        the job cannot be acted on now (a stale heightmap); it is asked only once a policy is
        known to be loadable, so a node without one says that first."""
        reason = self._closed()
        if reason is None and check is not None:
            try:
                check()
            except Refusal as exc:
                reason = str(exc)
        busy = superseded = None
        if reason is None:
            with self._cv:
                reason = self._closed()  # it may have failed or stopped meanwhile
                busy = None if reason is not None else self._busy()
                if reason is None and busy is None:
                    self._next = job
                elif reason is None and self._busy_policy == "queue_latest":
                    superseded, self._waiting = self._waiting, job
                self._cv.notify_all()
        if reason is not None:
            self._report("warning", "refused", job, reason=reason)
        elif busy is None:
            self._report("info", "accepted", job)
        elif self._busy_policy == "reject":
            self._report("warning", "refused", job, reason=f"busy: {busy} (busy_policy: reject)")
        else:
            if superseded is not None:
                self._report("warning", "superseded", superseded, reason=(
                    f"a newer instruction (job {job.id}) replaced it while it waited"))
            self._report("info", "queued", job, reason=f"waiting: {busy}")

    def refuse_waiting(self, reason: str) -> list[Job]:
        """Refuse (and report) every job not yet being decided; returns them."""
        with self._cv:
            waiting = [j for j in (self._next, self._waiting) if j is not None]
            self._next = self._waiting = None
        for job in waiting:
            self._report("warning", "refused", job, reason=reason)
        return waiting

    # ------------------------------------------------------------------ execution
    def begin_execution(self, job: Job) -> None:
        """From ``decide``, before sending ``job``'s goal: no next job until it ends."""
        with self._cv:
            self._executing = job

    def end_execution(self, job: Job) -> bool:
        """``job``'s goal ended; False (and nothing changes) if it was not executing."""
        with self._cv:
            if self._executing is not job:
                return False
            self._executing = None
            self._cv.notify_all()
            return True

    @property
    def executing(self) -> Job | None:
        with self._cv:
            return self._executing

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive (started and not yet stopped)."""
        return self._worker.is_alive()

    def busy_reason(self) -> str | None:
        """Why a job submitted now would wait, or None when it would be decided at once."""
        with self._cv:
            return self._busy()

    # ------------------------------------------------------------------ shutdown
    def stop(self, timeout: float = 5.0) -> Job | None:
        """Refuse the waiting jobs, let the worker finish its current job (at most
        ``timeout`` s) and return the job still executing, if any."""
        with self._cv:
            self.stopping.set()
            executing = self._executing
            self._cv.notify_all()
        self.refuse_waiting(SHUTDOWN_REASON)
        if self._worker.ident is not None:
            self._worker.join(timeout)
        return executing

    # ------------------------------------------------------------------ worker
    def _closed(self) -> str | None:
        """Why no job is taken at all now, or None."""
        with self._cv:
            if self._state == "failed":
                return f"no policy loaded: {self._problem}"
            if self.stopping.is_set():
                return SHUTDOWN_REASON
            return None

    def _busy(self) -> str | None:
        if self._state == "loading":
            return "the policy is still loading its checkpoint"
        if self._deciding is not None:
            return (f"deciding job {self._deciding.id} "
                    f"({preview(self._deciding.instruction, PREVIEW)!r})")
        if self._executing is not None:
            return (f"the arm is executing job {self._executing.id} "
                    f"({preview(self._executing.instruction, PREVIEW)!r})")
        if self._next is not None:
            return f"job {self._next.id} is about to start"
        return None

    def _run(self) -> None:
        try:
            fields = self._load()
        except Exception as exc:  # noqa: BLE001 - reported; the node keeps serving refusals
            self._fail(str(exc) if isinstance(exc, Refusal) else f"{type(exc).__name__}: {exc}")
            return
        with self._cv:
            self._state = "ready"
            self._cv.notify_all()
        try:
            self._report("info", "ready", None, **fields)
            self._serve()
        except Exception as exc:  # noqa: BLE001 - a dead worker must not look like a busy one
            self._fail(f"the policy worker stopped: {type(exc).__name__}: {exc}")

    def _fail(self, problem: str) -> None:
        with self._cv:
            self._state, self._problem = "failed", problem
            self._cv.notify_all()
        self._report("error", "load_failed", None, reason=problem)
        self.refuse_waiting(f"no policy loaded: {problem}")

    def _take(self) -> Job | None:
        """The next job to decide (waits for one), or None once stopping."""
        with self._cv:
            self._cv.wait_for(lambda: self.stopping.is_set() or (
                self._executing is None and (self._next or self._waiting) is not None))
            if self.stopping.is_set():
                return None
            if self._next is not None:
                job, self._next = self._next, None
            else:
                job, self._waiting = self._waiting, None
            self._deciding = job
            return job

    def _serve(self) -> None:
        while (job := self._take()) is not None:
            try:
                self._decide(job)
            except Refusal as exc:
                self._report("warning", "refused", job, reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - reported; the next job is served
                self._report("error", "refused", job,
                             reason=f"the policy failed: {type(exc).__name__}: {exc}")
            finally:
                with self._cv:
                    self._deciding = None
                    self._cv.notify_all()
