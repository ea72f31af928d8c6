"""The policy node's ``PickPlace`` goals: sent from the worker, followed on the executor thread.

The worker sends a goal (:meth:`PickPlaceGoals.send`) before it announces the decision, so
the arm waits for no visualisation, and follows it (:meth:`PickPlaceGoals.follow`) once the
decision is announced: the response callback is added only then, so ``decided`` precedes
``goal_accepted`` and no callback waits. rclpy gives a response future its executor before
it completes it, so a callback added late still runs on the executor thread. The scheduler
holds the next job from sending until the goal is rejected, ends, or runs past
``goal_timeout`` (then it is canceled); each of those is reported.
"""

from __future__ import annotations

import contextlib
import time

from action_msgs.msg import GoalStatus
from rclpy.node import Node

from cliport_common.ros.action_client import ThreadSafeActionClient
from cliport_msgs.action import PickPlace
from cliport_policy.node_config import PolicyNodeConfig
from cliport_policy.scheduler import Job, JobScheduler, Report

SERVER_POLL = 0.05  # s between checks for the action server
ERROR_NAMES = {getattr(PickPlace.Result, n): n[len("ERROR_"):] for n in dir(PickPlace.Result)
               if n.startswith("ERROR_")}
STATUS_NAMES = {getattr(GoalStatus, n): n[len("STATUS_"):] for n in dir(GoalStatus)
                if n.startswith("STATUS_")}


def result_fields(status: int, result) -> dict:
    """A ``PickPlace`` result as status fields (names, not numbers)."""
    fields = {"status": STATUS_NAMES.get(status, str(status)),
              "error_code": ERROR_NAMES.get(result.error_code, str(result.error_code)),
              "message": result.message}
    if result.has_reward:
        fields["reward"] = round(float(result.reward), 6)
    return fields


class PickPlaceGoals:
    """One ``PickPlace`` goal at a time for ``node``, its outcome reported as status events."""

    def __init__(self, node: Node, cfg: PolicyNodeConfig, jobs: JobScheduler,
                 report: Report) -> None:
        self._node, self._cfg, self._jobs, self._report = node, cfg, jobs, report
        self._client = ThreadSafeActionClient(node, PickPlace, cfg.action_name)
        self._handle = self._timer = None  # the executing goal's (executor thread)

    def server_is_ready(self) -> bool:
        return self._client.server_is_ready()

    def send(self, job: Job, goal):
        """On the worker: the goal's response future, or the error that kept it from going."""
        self._jobs.begin_execution(job)
        try:
            return self._client.send_goal_async(goal)
        except Exception as exc:  # noqa: BLE001 - reported by follow()
            return exc

    def follow(self, job: Job, sent) -> None:
        """On the worker, once the decision is announced: handle the goal's answer."""
        if isinstance(sent, Exception):
            self._over(job, "error", "goal_failed", reason=f"sending the goal failed: {sent!r}")
        else:
            sent.add_done_callback(lambda f: self._on_response(job, f))

    def send_when_ready(self, job: Job, goal) -> None:
        """On the worker, after announcing: wait up to ``server_wait`` for the server, then
        send and follow the goal."""
        deadline = time.monotonic() + self._cfg.server_wait
        while not self._client.server_is_ready():
            if time.monotonic() >= deadline or self._jobs.stopping.wait(SERVER_POLL):
                self._report("warning", "server_unavailable", job, reason=(
                    f"no PickPlace action server '{self._cfg.action_name}' after "
                    f"{self._cfg.server_wait:g} s; the decision was published, not executed"))
                return
        self.follow(job, self.send(job, goal))

    def cancel(self) -> None:
        """Cancel the executing goal, if any (shutdown: no arm left running for nobody)."""
        if self._handle is not None:
            with contextlib.suppress(Exception):  # best effort during shutdown
                self._handle.cancel_goal_async()

    def destroy(self) -> None:
        self._client.destroy()  # rclpy's destroy_node leaves action clients alone

    # ------------------------------------------------------------------ executor thread
    def _on_response(self, job: Job, future) -> None:
        try:
            handle = future.result()
        except Exception as exc:  # noqa: BLE001
            self._over(job, "error", "goal_failed", reason=f"no answer to the goal: {exc!r}")
            return
        if handle is None or not handle.accepted:
            self._over(job, "warning", "goal_rejected", reason="the executor rejected the goal "
                       "(malformed or busy; its log has the reason)")
        elif self._jobs.stopping.is_set() or self._jobs.executing is not job:
            handle.cancel_goal_async()  # shut down meanwhile
        else:
            self._handle = handle
            self._timer = self._node.create_timer(self._cfg.goal_timeout,
                                                  lambda: self._on_timeout(job))
            self._report("info", "goal_accepted", job)
            handle.get_result_async().add_done_callback(lambda f: self._on_result(job, f))

    def _on_result(self, job: Job, future) -> None:
        if self._jobs.executing is not job:
            return  # timed out (and canceled) before
        try:
            wrapped = future.result()
            status, result = wrapped.status, wrapped.result
        except Exception as exc:  # noqa: BLE001
            self._over(job, "error", "goal_failed", reason=f"no result: {exc!r}")
            return
        if status == GoalStatus.STATUS_SUCCEEDED and result.success:
            self._over(job, "info", "goal_succeeded", **result_fields(status, result))
        else:
            self._over(job, "warning", "goal_failed", **result_fields(status, result))

    def _on_timeout(self, job: Job) -> None:
        if self._jobs.executing is not job:
            return
        if self._handle is not None:
            self._handle.cancel_goal_async()
        self._over(job, "warning", "goal_timeout", reason=f"the goal ran longer than "
                   f"goal_timeout {self._cfg.goal_timeout:g} s; cancel requested")

    def _over(self, job: Job, level: str, event: str, **fields) -> None:
        """Report how ``job``'s goal ended and let the next job start."""
        self._report(level, event, job, **fields)
        if self._jobs.end_execution(job):
            self._handle = None
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
                self._node.destroy_timer(timer)
