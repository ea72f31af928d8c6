"""The policy node's job scheduler, without ROS: order, busy policies, refusals, errors in the
decide step, execution holds and shutdown. Steps are held and released with events, so every
case is deterministic; a wait's timeout only bounds a failing run."""

from __future__ import annotations

import threading
import time

import pytest

from cliport_policy.node_config import Refusal
from cliport_policy.scheduler import SHUTDOWN_REASON, Job, JobScheduler

pytestmark = pytest.mark.timeout(30)
WAIT = 10.0  # s a failing wait gives up after


class Harness:
    """A scheduler whose load and decide steps are held until the test releases them, and a
    record of every reported event as (level, event, job id, fields)."""

    def __init__(self, busy_policy: str = "queue_latest", load_error: Exception | None = None,
                 hold_load: bool = False) -> None:
        self.cv = threading.Condition()
        self.events: list[tuple[str, str, int, dict]] = []
        self.decided: list[str] = []
        self.load_gate = threading.Event()
        self.gates: dict[str, threading.Event] = {}  # instruction -> release of its decide
        self.load_error = load_error
        self.execute: set[str] = set()  # instructions whose goal holds the scheduler
        if not hold_load:
            self.load_gate.set()
        self.jobs = JobScheduler(self.load, self.decide, self.report, busy_policy)
        self._ids = 0

    def load(self) -> dict:
        assert self.load_gate.wait(WAIT)
        if self.load_error is not None:
            raise self.load_error
        return {"agent": "fake"}

    def decide(self, job: Job) -> None:
        gate = self.gates.get(job.instruction)
        with self.cv:
            self.decided.append(job.instruction)
            self.cv.notify_all()
        if gate is not None:
            assert gate.wait(WAIT)
        if job.instruction.startswith("boom"):
            raise RuntimeError(job.instruction)
        if job.instruction.startswith("outside"):
            raise Refusal("the decision's pick pose lies outside the workspace")
        if job.instruction in self.execute:
            self.jobs.begin_execution(job)

    def report(self, level: str, event: str, job: Job | None, **fields) -> None:
        with self.cv:
            self.events.append((level, event, 0 if job is None else job.id, fields))
            self.cv.notify_all()

    def hold(self, instruction: str) -> threading.Event:
        self.gates[instruction] = gate = threading.Event()
        return gate

    def start_deciding(self, instruction: str) -> tuple[Job, threading.Event]:
        """Once ready: submit ``instruction``; returns while its decide step is held."""
        self.wait_event(0, "ready")
        gate, n = self.hold(instruction), len(self.decided) + 1
        job = self.submit(instruction)
        self.wait_decided(n)
        return job, gate

    def submit(self, instruction: str, check=None) -> Job:
        self._ids += 1
        job = Job(self._ids, instruction)
        self.jobs.submit(job, check)
        return job

    def wait(self, predicate, what: str) -> None:
        """Until ``predicate()`` holds: woken by every report, and every 10 ms for the
        scheduler's own state (which reports nothing when a job is done)."""
        end = time.monotonic() + WAIT
        with self.cv:
            while not predicate():
                assert time.monotonic() < end, f"no {what}; events: {self.events}"
                self.cv.wait(0.01)

    def wait_decided(self, n: int) -> None:
        self.wait(lambda: len(self.decided) >= n, f"{n} decisions")

    def wait_event(self, job_id: int, event: str) -> tuple[str, dict]:
        self.wait(lambda: self.find(job_id, event) is not None, f"{event} of job {job_id}")
        return self.find(job_id, event)

    def find(self, job_id: int, event: str) -> tuple[str, dict] | None:
        return next(((lv, f) for lv, e, j, f in self.events if j == job_id and e == event),
                    None)

    def of(self, job_id: int) -> list[str]:
        with self.cv:
            return [e for _, e, j, _ in self.events if j == job_id]

    def wait_idle(self) -> None:
        """Until the worker has let go of its last job (it reports nothing then)."""
        self.wait(lambda: self.jobs.busy_reason() is None, "idle scheduler")


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(**kwargs) -> Harness:
        h = Harness(**kwargs)
        h.jobs.start()
        made.append(h)
        return h

    yield make
    for h in made:
        for gate in h.gates.values():
            gate.set()
        h.load_gate.set()
        h.jobs.stop()


def test_jobs_are_decided_one_at_a_time_and_the_latest_waiting_one_wins(harness):
    h = harness()
    first, gate = h.start_deciding("first")
    second, third = h.submit("second"), h.submit("third")
    assert h.find(second.id, "queued") == ("info", {"reason": "waiting: deciding job 1 "
                                                              "('first')"})
    assert h.find(second.id, "superseded") == ("warning", {
        "reason": "a newer instruction (job 3) replaced it while it waited"})
    gate.set()
    h.wait_decided(2)
    h.wait_idle()
    assert h.decided == ["first", "third"]
    assert h.of(first.id) == ["accepted"] and h.of(third.id) == ["queued"]
    assert h.of(second.id) == ["queued", "superseded"]


def test_a_job_submitted_while_loading_waits_for_the_policy(harness):
    h = harness(hold_load=True)
    job = h.submit("put the red block in the blue bowl")
    assert h.of(job.id) == ["queued"]
    assert h.find(job.id, "queued")[1]["reason"] == \
        "waiting: the policy is still loading its checkpoint"
    assert h.decided == []
    h.load_gate.set()
    h.wait_decided(1)
    assert h.find(0, "ready") == ("info", {"agent": "fake"})


def test_reject_refuses_while_busy_and_serves_again_when_free(harness):
    h = harness(busy_policy="reject")
    _, gate = h.start_deciding("first")
    second = h.submit("second")
    assert h.find(second.id, "refused") == ("warning", {
        "reason": "busy: deciding job 1 ('first') (busy_policy: reject)"})
    gate.set()
    h.wait_idle()
    third = h.submit("third")
    h.wait_decided(2)
    assert h.decided == ["first", "third"] and h.of(third.id) == ["accepted"]


def test_a_job_whose_check_fails_is_refused_and_never_decided(harness):
    """The node's check: the latest heightmap must be fresh."""
    h = harness()
    h.wait_event(0, "ready")

    def stale():
        raise Refusal("the latest heightmap is stale: 30.00 s old (max_heightmap_age 2 s)")

    job = h.submit("put the red block in the blue bowl", check=stale)
    assert h.of(job.id) == ["refused"]
    assert h.find(job.id, "refused")[1]["reason"].startswith("the latest heightmap is stale")
    fresh = h.submit("put the blue block in the red bowl", check=lambda: None)
    h.wait_decided(1)
    assert h.decided == ["put the blue block in the red bowl"]
    assert h.of(fresh.id) == ["accepted"]


@pytest.mark.parametrize("error, reason", [
    (Refusal("no checkpoint configured"), "no checkpoint configured"),
    (RuntimeError("CUDA unavailable"), "RuntimeError: CUDA unavailable"),
])
def test_a_failed_load_refuses_the_waiting_and_every_later_job(harness, error, reason):
    h = harness(load_error=error, hold_load=True)
    waiting = h.submit("first")
    h.load_gate.set()
    assert h.wait_event(0, "load_failed") == ("error", {"reason": reason})
    assert h.wait_event(waiting.id, "refused") == ("warning", {
        "reason": f"no policy loaded: {reason}"})
    checked = []
    later = h.submit("second", check=lambda: checked.append(1))
    assert h.find(later.id, "refused")[1]["reason"] == f"no policy loaded: {reason}"
    assert checked == [] and h.decided == []  # the missing policy is the reason given


def test_errors_in_the_decide_step_are_reported_and_the_next_job_is_served(harness):
    h = harness()
    h.wait_event(0, "ready")
    boom = h.submit("boom")
    assert h.wait_event(boom.id, "refused") == ("error", {
        "reason": "the policy failed: RuntimeError: boom"})
    outside = h.submit("outside")
    assert h.wait_event(outside.id, "refused") == ("warning", {
        "reason": "the decision's pick pose lies outside the workspace"})
    h.wait_idle()
    good = h.submit("put the red block in the blue bowl")
    h.wait_decided(3)
    h.wait_idle()
    assert h.decided == ["boom", "outside", "put the red block in the blue bowl"]
    assert h.of(good.id) == ["accepted"]


def test_an_executing_job_holds_the_next_until_its_goal_ends(harness):
    h = harness()
    h.wait_event(0, "ready")
    h.execute.add("first")
    first = h.submit("first")
    executing = "the arm is executing job 1 ('first')"
    h.wait(lambda: h.jobs.busy_reason() == executing, "execution of the first job")
    assert h.jobs.executing is first
    second = h.submit("second")
    assert h.find(second.id, "queued")[1]["reason"] == f"waiting: {executing}"
    assert h.decided == ["first"]
    assert h.jobs.end_execution(second) is False  # not the executing job: nothing changes
    assert h.jobs.executing is first
    assert h.jobs.end_execution(first) is True
    h.wait_decided(2)
    assert h.decided == ["first", "second"] and h.jobs.end_execution(first) is False


def test_refusing_the_waiting_jobs_leaves_the_one_being_decided(harness):
    h = harness()
    first, gate = h.start_deciding("first")
    second = h.submit("second")
    assert h.jobs.refuse_waiting("the operator canceled it") == [second]
    assert h.find(second.id, "refused") == ("warning", {"reason": "the operator canceled it"})
    assert h.jobs.refuse_waiting("again") == []
    gate.set()
    h.wait_idle()
    assert h.decided == ["first"] and h.of(first.id) == ["accepted"]


def test_stop_refuses_the_waiting_ends_the_worker_and_returns_the_executing_job(harness):
    h = harness()
    h.wait_event(0, "ready")
    h.execute.add("first")
    first = h.submit("first")
    h.wait(lambda: h.jobs.busy_reason() == "the arm is executing job 1 ('first')",
           "execution of the first job")
    second = h.submit("second")
    assert h.jobs.running
    assert h.jobs.stop() is first
    assert h.find(second.id, "refused") == ("warning", {"reason": SHUTDOWN_REASON})
    later = h.submit("third")
    assert h.find(later.id, "refused") == ("warning", {"reason": SHUTDOWN_REASON})
    assert h.jobs.stopping.is_set() and not h.jobs.running and h.decided == ["first"]


def test_stop_before_start_and_an_unknown_busy_policy():
    jobs = JobScheduler(dict, lambda job: None, lambda *a, **k: None)
    assert jobs.stop() is None
    with pytest.raises(ValueError, match="busy_policy must be one of"):
        JobScheduler(dict, lambda job: None, lambda *a, **k: None, busy_policy="drop")
