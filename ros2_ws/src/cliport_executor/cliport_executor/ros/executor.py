"""``ActionFirstExecutor``: a thread-pool executor that answers action requests at once.

Action servers' and clients' handlers (rclpy's bookkeeping plus the goal and cancel
callbacks, which must therefore be quick) run on the spin thread; execute callbacks, timers,
subscriptions and services run on a pool of ``num_threads`` threads, as in
``MultiThreadedExecutor``. Why: the pool's thread hop delayed goals under load
(docs/notes/action-first-executor.md). Uses only rclpy's public executor API (Humble, Jazzy).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rclpy.action import ActionClient, ActionServer
from rclpy.executors import (
    ConditionReachedException,
    Executor,
    ExternalShutdownException,
    ShutdownException,
    TimeoutException,
)

INLINE_ENTITIES = (ActionServer, ActionClient)


class ActionFirstExecutor(Executor):
    def __init__(self, num_threads: int, *, context=None) -> None:
        super().__init__(context=context)
        self._pool = ThreadPoolExecutor(num_threads, thread_name_prefix="executor")
        self._pooled: list = []

    def _spin_once_impl(self, timeout_sec=None, wait_condition=lambda: False) -> None:
        try:
            handler, entity, _node = self.wait_for_ready_callbacks(timeout_sec, None,
                                                                   wait_condition)
        except (ExternalShutdownException, ShutdownException, TimeoutException,
                ConditionReachedException):
            return
        if isinstance(entity, INLINE_ENTITIES):
            handler()  # runs to its first await (a result request waits for its goal)
            if handler.exception() is not None:
                raise handler.exception()
        else:
            self._pool.submit(handler)
            self._pooled.append(handler)
        for task in [t for t in self._pooled if t.done()]:
            self._pooled.remove(task)
            task.result()  # raise what a pooled callback raised, as MultiThreadedExecutor

    def spin_once(self, timeout_sec: float | None = None) -> None:
        self._spin_once_impl(timeout_sec)

    def spin_once_until_future_complete(self, future, timeout_sec: float | None = None) -> None:
        future.add_done_callback(lambda _f: self.wake())
        self._spin_once_impl(timeout_sec, future.done)

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        done = super().shutdown(timeout_sec)
        self._pool.shutdown(wait=False)
        return done
