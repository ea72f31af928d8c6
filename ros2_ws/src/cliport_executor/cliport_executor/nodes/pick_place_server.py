"""The ``pick_place`` action server: one ``PickPlace`` interface for every arm backend.

Thin node over the plain-Python core:

* **goal callback** -> :func:`~cliport_executor.screening.screen_goal`: malformed goals
  (non-finite numbers, tilted or non-unit orientation, unknown frame or primitive, bad
  instruction or speed) are rejected and the reason logged; out-of-workspace goals are
  accepted and aborted with ``ERROR_OUT_OF_WORKSPACE`` (or rejected, with
  ``reject_out_of_workspace``). Then the :class:`~cliport_executor.gate.GoalGate` applies
  the busy policy (``reject`` a goal while one runs, or ``preempt`` the running one).
* **execute** -> the backend, under a :class:`~cliport_executor.supervision.Supervisor`
  (feedback per phase, per-phase and goal timeouts). After any failure the backend's
  ``safe_stop()`` brings the arm to rest. No exception leaves a callback: a fault becomes
  ``ERROR_HARDWARE`` with its message and the node keeps serving.
* **cancel** -> the supervisor: the backend stops at its next control period (a simulation
  step; MoveIt: ``stop_execution`` at once) and the goal ends CANCELED.
* **threads**: :func:`make_executor` (:class:`~cliport_executor.ros.executor.ActionFirstExecutor`)
  answers goal and cancel requests on the spin thread, so the goal and cancel callbacks
  must never block; execute callbacks run on ``executor_threads`` pool threads.

A backend that fails to connect does not end the node: goals are aborted with the reason
and the connection is retried at the next goal.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from cliport_common.ros.params import declare_config
from cliport_common.ros.spin import Hosted, run_node
from cliport_executor.backend import ArmBackend, make_backend
from cliport_executor.config import ExecutorConfig, load_executor_config
from cliport_executor.conversions import result_from_outcome
from cliport_executor.gate import GoalGate
from cliport_executor.request import ErrorCode, Outcome
from cliport_executor.ros.executor import ActionFirstExecutor
from cliport_executor.screening import ScreeningVerdict, screen_goal
from cliport_executor.supervision import StopReason, Supervisor

ACTION_NAME = "pick_place"


def goal_key(goal_handle) -> bytes:
    return bytes(goal_handle.goal_id.uuid)


class PickPlaceServer(Node):
    def __init__(self, *, context=None, parameter_overrides=None,
                 backend: ArmBackend | None = None,
                 defaults: ExecutorConfig | None = None,
                 clock: Callable[[], float] | None = None, **node_kwargs) -> None:
        """``clock``: the arm's time for the goals' timeouts (a simulated arm's simulated
        time, checked between motions); default the wall clock, with a watchdog."""
        super().__init__("pick_place_server", context=context,
                         parameter_overrides=parameter_overrides, **node_kwargs)
        self.config = declare_config(self, defaults or load_executor_config())
        self._timing = {} if clock is None else {"clock": clock, "watchdog": False}
        self._group = ReentrantCallbackGroup()
        self.backend = backend or make_backend(self.config.backend, self.config, ros_node=self,
                                               callback_group=self._group)
        self.gate = GoalGate(self.config.busy_policy)
        self._connect_lock = threading.Lock()
        self._connected = False
        self._connect_error = ""
        self._connect()
        self._server = ActionServer(
            self, self._action_type(), ACTION_NAME,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_cancel,
            callback_group=self._group,
        )
        self.get_logger().info(
            f"PickPlace server '{ACTION_NAME}' ready: backend={self.config.backend}, "
            f"frame={self.config.base_frame}, busy_policy={self.config.busy_policy}")

    @staticmethod
    def _action_type():
        from cliport_msgs.action import PickPlace

        return PickPlace

    # ------------------------------------------------------------------ backend
    def _connect(self) -> bool:
        with self._connect_lock:
            if self._connected:
                return True
            try:
                self.backend.connect()
            except Exception as exc:  # noqa: BLE001 - report it to every goal instead
                self._connect_error = f"backend {self.backend.name} cannot connect: {exc}"
                self.get_logger().error(self._connect_error)
                return False
            self._connected = True
            return True

    # ------------------------------------------------------------------ callbacks
    def _on_goal(self, goal) -> GoalResponse:
        try:
            screened = screen_goal(goal, self.config)
            if screened.verdict == ScreeningVerdict.REJECT:
                self.get_logger().warning(f"rejected PickPlace goal ({screened.code.name}): "
                                          f"{screened.message}")
                return GoalResponse.REJECT
            if not self.gate.reserve():
                self.get_logger().warning("rejected PickPlace goal: another goal is running "
                                          "(busy_policy: reject)")
                return GoalResponse.REJECT
            return GoalResponse.ACCEPT
        except Exception as exc:  # noqa: BLE001 - never leave a client without an answer
            self.get_logger().error(f"rejected PickPlace goal: screening failed: {exc!r}")
            return GoalResponse.REJECT

    def _on_accepted(self, goal_handle) -> None:
        cfg = self.config
        sup = Supervisor(self._feedback_fn(goal_handle), cfg.timeouts,
                         feedback_period=cfg.feedback_period, **self._timing)
        self.gate.claim(goal_key(goal_handle), sup)
        goal_handle.execute()

    def _on_cancel(self, goal_handle) -> CancelResponse:
        sup = self.gate.supervisor(goal_key(goal_handle))
        if sup is not None:
            sup.cancel()
        return CancelResponse.ACCEPT

    def _feedback_fn(self, goal_handle):
        PickPlace = self._action_type()

        def publish(phase, progress: float) -> None:
            msg = PickPlace.Feedback()
            msg.phase = int(phase)
            msg.progress = float(progress)
            try:
                goal_handle.publish_feedback(msg)
            except Exception as exc:  # noqa: BLE001 - a lost feedback must not stop the arm
                self.get_logger().warning(f"feedback not published: {exc!r}")
        return publish

    def _execute(self, goal_handle):
        key = goal_key(goal_handle)
        sup = self.gate.supervisor(key) or Supervisor(None, self.config.timeouts)
        arm_held = False
        outcome: Outcome | None = None
        try:
            arm_held = self.gate.acquire_arm(self.config.timeouts.preempt_wait)
            outcome = self._run(goal_handle, sup, arm_held)
        except Exception as exc:  # noqa: BLE001 - a backend fault must not kill the node
            self.get_logger().error(f"backend {self.backend.name} failed: {exc!r}")
            outcome = Outcome.fail(ErrorCode.HARDWARE, f"backend error: {exc}")
        finally:
            if arm_held and (outcome is None or not outcome.success):
                with contextlib.suppress(Exception):
                    self.backend.safe_stop()
            self.gate.release(key, arm_held=arm_held)
        try:
            return self._finish(goal_handle, outcome, sup)
        except Exception as exc:  # noqa: BLE001 - the client still gets a result
            self.get_logger().error(f"finishing the goal failed: {exc!r}")
            return result_from_outcome(outcome)

    def _run(self, goal_handle, sup: Supervisor, arm_held: bool) -> Outcome:
        if not arm_held:
            return Outcome.fail(ErrorCode.HARDWARE, "the previous goal did not release the arm "
                                                    f"within {self.config.timeouts.preempt_wait:g}"
                                                    " s")
        if sup.stopping:  # canceled or preempted while waiting for the arm
            return sup.stop_outcome()
        screened = screen_goal(goal_handle.request, self.config)
        if screened.verdict != ScreeningVerdict.ACCEPT:
            return Outcome.fail(screened.code, screened.message)
        if not self._connect():
            return Outcome.fail(ErrorCode.HARDWARE, self._connect_error)
        return self.backend.execute(screened.request, sup)

    def _finish(self, goal_handle, outcome: Outcome, sup: Supervisor):
        result = result_from_outcome(outcome)
        try:
            if (outcome.error_code == ErrorCode.CANCELED and goal_handle.is_cancel_requested
                    and sup.reason == StopReason.CANCELED):
                goal_handle.canceled()
            elif outcome.success:
                goal_handle.succeed()
            else:
                goal_handle.abort()
        except Exception as exc:  # noqa: BLE001 - e.g. the goal already left the active set
            self.get_logger().warning(f"could not set the goal's final state: {exc!r}")
        summary = (f"PickPlace done: success={outcome.success} "
                   f"code={ErrorCode(outcome.error_code).name} {outcome.message}").rstrip()
        # One severity per call site: rclpy refuses a call site that changes severity.
        if outcome.success:
            self.get_logger().info(summary)
        else:
            self.get_logger().warning(summary)
        return result

    def destroy_node(self) -> None:
        self.gate.stop_all(StopReason.SHUTDOWN, "the server is shutting down")
        with contextlib.suppress(Exception):
            self.backend.disconnect()
        # rclpy's destroy_node leaves action servers alone: undestroyed, this one stays
        # discoverable in the process, and a client sees a server that never answers.
        self._server.destroy()
        super().destroy_node()


def make_executor(server: PickPlaceServer) -> ActionFirstExecutor:
    """The server's executor: goal and cancel requests answered on the spin thread, execute
    callbacks (the arm moving) and everything else on ``executor_threads`` pool threads."""
    return ActionFirstExecutor(num_threads=server.config.executor_threads)


def hosted(server: PickPlaceServer, *nodes: Node, who: str = "the server") -> Hosted:
    """``server`` (and ``nodes`` sharing its process) on the server's executor, stopping any
    goal in flight before the nodes go: the one shutdown order for every process that hosts
    the PickPlace action (spun by :func:`~cliport_common.ros.spin.run_node`)."""
    return Hosted([server, *nodes], make_executor(server),
                  lambda: server.gate.stop_all(StopReason.SHUTDOWN, f"{who} is shutting down"))


def main(args=None) -> int:
    return run_node(lambda: hosted(PickPlaceServer()), args)


if __name__ == "__main__":
    raise SystemExit(main())
