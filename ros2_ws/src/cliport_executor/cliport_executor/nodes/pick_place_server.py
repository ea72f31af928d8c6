"""The ``pick_place`` action server: one ``PickPlace`` interface for every arm backend.

Thin node: declares the parameters mirrored from ``config/executor.yaml``, converts
messages, validates goals with the core checks and hands them to the configured
``ArmBackend``. Malformed goals are rejected (and logged with the reason); goals
outside the workspace are accepted and aborted with ``ERROR_OUT_OF_WORKSPACE`` so the
client learns why. One goal runs at a time; a new goal while one runs is rejected.
"""

from __future__ import annotations

import dataclasses
import threading

import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from cliport_executor.backend import CancelToken, make_backend
from cliport_executor.config import load_executor_config
from cliport_executor.conversions import request_from_goal, result_from_outcome
from cliport_executor.request import ErrorCode, Outcome, Primitive
from cliport_executor.validation import GoalError, check_goal, check_workspace
from cliport_perception.ros.params import declare_config

ACTION_NAME = "pick_place"


class PickPlaceServer(Node):
    def __init__(self) -> None:
        super().__init__("pick_place_server")
        self.config = declare_config(self, load_executor_config())
        self.backend = make_backend(self.config.backend, self.config)
        self.backend.connect()
        self._busy = threading.Lock()
        self._cancel: CancelToken | None = None
        group = ReentrantCallbackGroup()
        self._server = ActionServer(
            self, self._action_type(), ACTION_NAME,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=group,
        )
        self.get_logger().info(
            f"PickPlace server '{ACTION_NAME}' ready: backend={self.config.backend}, "
            f"frame={self.config.base_frame}")

    @staticmethod
    def _action_type():
        from cliport_msgs.action import PickPlace

        return PickPlace

    def _on_goal(self, goal) -> GoalResponse:
        try:
            req = request_from_goal(goal, self.config.max_tilt)
            check_goal(req, self.config)
        except GoalError as exc:
            self.get_logger().warning(f"rejected PickPlace goal: {exc}")
            return GoalResponse.REJECT
        if self._busy.locked():
            self.get_logger().warning("rejected PickPlace goal: another goal is executing")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        if self._cancel is not None:
            self._cancel.cancel()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        PickPlace = self._action_type()
        with self._busy:
            self._cancel = CancelToken()
            try:
                outcome = self._run(goal_handle, PickPlace)
            except Exception as exc:  # noqa: BLE001 - a backend fault must not kill the node
                self.get_logger().error(f"backend {self.backend.name} failed: {exc!r}")
                outcome = Outcome.fail(ErrorCode.HARDWARE, f"backend error: {exc}")
            finally:
                canceled = self._cancel.canceled
                self._cancel = None
        result = result_from_outcome(outcome)
        if canceled and goal_handle.is_cancel_requested:
            result.error_code = int(ErrorCode.CANCELED)
            result.success = False
            goal_handle.canceled()
        elif outcome.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        self.get_logger().info(
            f"PickPlace done: success={outcome.success} code={ErrorCode(result.error_code).name} "
            f"{outcome.message}")
        return result

    def _run(self, goal_handle, PickPlace) -> Outcome:
        req = request_from_goal(goal_handle.request, self.config.max_tilt)
        req = dataclasses.replace(req, primitive=Primitive(req.primitive))
        try:
            check_workspace(req, self.config)
        except GoalError as exc:
            return Outcome.fail(exc.code, str(exc))

        def feedback(phase, progress: float) -> None:
            msg = PickPlace.Feedback()
            msg.phase = int(phase)
            msg.progress = float(progress)
            goal_handle.publish_feedback(msg)

        return self.backend.execute(req, feedback, self._cancel)

    def destroy_node(self) -> None:
        self.backend.disconnect()
        super().destroy_node()


def main(args=None) -> int:
    rclpy.init(args=args)
    node = PickPlaceServer()
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
