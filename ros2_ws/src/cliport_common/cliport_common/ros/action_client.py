"""An rclpy ``ActionClient`` whose goal, cancel and result requests may be sent from any
thread; ``done_callback`` runs on the executor thread.

Why: rclpy's own client can lose a fast server's response to a request sent off the executor
thread, and handing every goal to that thread costs latency
(docs/notes/thread-safe-action-client.md).
"""

from __future__ import annotations

import threading

from rclpy.action import ActionClient


class ThreadSafeActionClient(ActionClient):
    """``ActionClient`` whose goal, cancel and result requests may come from any thread."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # re-entrant: a feedback callback (run inside execute) may send a request itself
        self._request_lock = threading.RLock()

    def send_goal_async(self, goal, feedback_callback=None, goal_uuid=None,
                        done_callback=None):
        with self._request_lock:
            future = super().send_goal_async(goal, feedback_callback, goal_uuid)
            if done_callback is not None:
                future.add_done_callback(done_callback)  # still pending: runs on the executor
            return future

    def _cancel_goal_async(self, goal_handle):
        with self._request_lock:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle):
        with self._request_lock:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data):
        # rclpy's execute only sets futures and calls feedback callbacks: it never suspends,
        # so the lock is held for one pass over the taken responses.
        with self._request_lock:
            await super().execute(taken_data)
