"""Which goal may run: one arm, one goal at a time, with a documented busy policy.

``reject``: a goal that arrives while another is accepted or running is rejected. The slot is
*reserved* in the goal callback, before the accept is sent, so two goals arriving together
cannot both be accepted. ``preempt``: the new goal is accepted; the running one is stopped
(it ends ABORTED with ``ERROR_CANCELED``, "preempted") and the new one starts once the arm
has stopped, waiting at most ``timeouts.preempt_wait``.

Plain Python (no rclpy): the server keys goals by their goal-id bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cliport_executor.config import BUSY_POLICIES
from cliport_executor.supervision import StopReason, Supervisor


class GoalGate:
    def __init__(self, policy: str) -> None:
        if policy not in BUSY_POLICIES:
            raise ValueError(f"unknown busy policy {policy!r}; expected one of {BUSY_POLICIES}")
        self.policy = policy
        self._lock = threading.Lock()
        self._reserved = 0
        self._goals: dict[Hashable, Supervisor] = {}
        self._arm = threading.Lock()  # held while a goal drives the arm

    def reserve(self) -> bool:
        """Goal callback: may this goal be accepted? Reserves a slot when it may."""
        with self._lock:
            if self.policy == "reject" and (self._reserved or self._goals):
                return False
            self._reserved += 1
            return True

    def claim(self, key: Hashable, supervisor: Supervisor) -> None:
        """Accepted callback: turn the reservation into a tracked goal (preempting others)."""
        with self._lock:
            self._reserved = max(0, self._reserved - 1)
            others = list(self._goals.values())
            self._goals[key] = supervisor
        if self.policy == "preempt":
            for sup in others:
                sup.request_stop(StopReason.PREEMPTED, "preempted by a newer goal")

    def supervisor(self, key: Hashable) -> Supervisor | None:
        with self._lock:
            return self._goals.get(key)

    def acquire_arm(self, timeout: float) -> bool:
        """Execute: wait for the previous goal to let go of the arm."""
        return self._arm.acquire(timeout=timeout)

    def release(self, key: Hashable, *, arm_held: bool) -> None:
        with self._lock:
            sup = self._goals.pop(key, None)
        if sup is not None:
            sup.close()
        if arm_held:
            self._arm.release()

    def stop_all(self, reason: StopReason, message: str) -> None:
        with self._lock:
            running = list(self._goals.values())
        for sup in running:
            sup.request_stop(reason, message)

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._reserved or self._goals)
