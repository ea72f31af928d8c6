"""Supervisor (phases, progress, cancel, timeouts) and GoalGate (busy policies)."""

from __future__ import annotations

import threading
import time

import pytest

from cliport_executor.config import Timeouts
from cliport_executor.gate import GoalGate
from cliport_executor.request import PICK_PLACE_PHASES, ErrorCode, Phase
from cliport_executor.supervision import Stopped, StopReason, Supervisor


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(timeouts: Timeouts | None = None, **kw):
    clock = FakeClock()
    feedback: list[tuple[Phase, float]] = []
    sup = Supervisor(lambda p, f: feedback.append((p, f)), timeouts or Timeouts(), clock=clock,
                     watchdog=False, **kw)
    return sup, clock, feedback


def test_phases_publish_monotone_progress_and_finish_at_one():
    sup, _, feedback = make()
    sup.begin(PICK_PLACE_PHASES)
    for phase in (Phase.APPROACH, Phase.DESCEND, Phase.GRASP, Phase.RETREAT):
        sup.enter(phase)
    sup.finish()
    assert [p for p, _ in feedback] == [Phase.APPROACH, Phase.DESCEND, Phase.GRASP,
                                        Phase.RETREAT, Phase.RETREAT]
    progress = [f for _, f in feedback]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert progress[3] == pytest.approx(6 / 7)  # a skipped-ahead retreat jumps to its slot


def test_a_phase_that_overruns_its_timeout_stops_the_goal():
    sup, clock, _ = make(Timeouts(grasp=2.0))
    sup.begin(PICK_PLACE_PHASES)
    sup.enter(Phase.GRASP)
    clock.now += 1.9
    assert not sup.should_stop()
    clock.now += 0.2
    assert sup.should_stop() and sup.reason == StopReason.TIMEOUT
    out = sup.stop_outcome()
    assert out.error_code == ErrorCode.TIMEOUT
    assert "grasp exceeded its 2 s timeout" in out.message
    with pytest.raises(Stopped):
        sup.check()


def test_the_goal_timeout_bounds_the_sum_of_phases():
    sup, clock, _ = make(Timeouts(approach=10.0, descend=10.0, goal=15.0))
    sup.begin(PICK_PLACE_PHASES)
    sup.enter(Phase.APPROACH)
    clock.now += 9.0
    sup.enter(Phase.DESCEND)
    clock.now += 7.0
    assert sup.should_stop() and "goal exceeded its 15 s" in sup.stop_outcome().message


def test_cancel_calls_listeners_once_and_first_reason_wins():
    sup, _, _ = make()
    calls = []
    with sup.on_stop(lambda: calls.append("stop")):
        sup.cancel()
        sup.request_stop(StopReason.TIMEOUT, "late")
    assert calls == ["stop"] and sup.reason == StopReason.CANCELED
    assert sup.stop_outcome().error_code == ErrorCode.CANCELED
    late = []
    with sup.on_stop(lambda: late.append(1)):  # registered after the stop: called at once
        pass
    assert late == [1]


def test_a_failing_listener_does_not_block_the_others():
    sup, _, _ = make()
    calls = []

    def boom():
        raise RuntimeError("driver gone")

    with sup.on_stop(boom), sup.on_stop(lambda: calls.append("second")):
        sup.cancel()
    assert calls == ["second"]


def test_the_watchdog_stops_a_blocked_backend_without_polling():
    """A backend stuck in a blocking call is stopped through its listener by the timer."""
    sup = Supervisor(None, Timeouts(transfer=0.1))
    released = threading.Event()
    sup.begin(PICK_PLACE_PHASES)
    sup.enter(Phase.TRANSFER)
    start = time.monotonic()
    with sup.on_stop(released.set):
        assert released.wait(5.0), "the watchdog never fired"
    assert time.monotonic() - start < 2.0
    assert sup.reason == StopReason.TIMEOUT
    sup.close()


def test_periodic_feedback_repeats_the_phase_while_polled():
    sup, clock, feedback = make(feedback_period=0.5)
    sup.begin(PICK_PLACE_PHASES)
    sup.enter(Phase.TRANSFER)
    for _ in range(10):
        clock.now += 0.2
        sup.should_stop()
    assert len(feedback) == 1 + 3  # entering, then at +0.6, +1.2, +1.8 s (every >= 0.5 s)
    assert {p for p, _ in feedback} == {Phase.TRANSFER}


def test_wait_returns_early_on_cancel():
    sup = Supervisor()
    threading.Timer(0.05, sup.cancel).start()
    start = time.monotonic()
    assert sup.wait(5.0)
    assert time.monotonic() - start < 2.0


# ---------------------------------------------------------------------------------- gate
def test_reject_policy_reserves_before_accepting():
    gate = GoalGate("reject")
    assert gate.reserve()
    assert not gate.reserve()  # a second goal in flight, not yet claimed: rejected
    sup = Supervisor()
    gate.claim(b"a", sup)
    assert not gate.reserve()
    assert gate.acquire_arm(0.1)
    gate.release(b"a", arm_held=True)
    assert gate.reserve() and gate.busy


def test_preempt_policy_stops_the_running_goal_and_hands_over_the_arm():
    gate = GoalGate("preempt")
    old, new = Supervisor(), Supervisor()
    assert gate.reserve()
    gate.claim(b"old", old)
    assert gate.acquire_arm(0.1)
    assert gate.reserve()
    gate.claim(b"new", new)
    assert old.reason == StopReason.PREEMPTED and not new.stopping
    assert old.stop_outcome().error_code == ErrorCode.CANCELED
    assert "preempted" in old.stop_outcome().message
    assert not gate.acquire_arm(0.05)  # the old goal still holds the arm
    threading.Timer(0.05, lambda: gate.release(b"old", arm_held=True)).start()
    assert gate.acquire_arm(2.0)
    gate.release(b"new", arm_held=True)
    assert not gate.busy


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError, match="busy policy"):
        GoalGate("queue")
