"""``ActionFirstExecutor``: a thread-pool executor that answers action requests at once.

The ``pick_place`` server needs threads: a goal's execute callback blocks while the arm
moves, and cancel requests, the next goal (busy policy ``preempt``) and the backends' own
service and action calls must be served meanwhile. rclpy's ``MultiThreadedExecutor`` hands
*every* ready callback to its pool, including an action server's goal, cancel and result
requests: a thread hop (the pool thread waking, then waiting for the GIL while the spin
thread rebuilds its wait set) on the way to the goal callback. In ``bench loop_latency``,
three runs each, alternated, a goal reached the real server's goal callback 3.0-4.2 ms
after the policy decided on ``MultiThreadedExecutor`` (p50; p99 8.0-10.2 ms) and 2.6-3.2 ms
on this one (p99 6.0-8.3 ms); the frames -> goal overhead p99 went from 10.7-12.8 to
9.0-10.5 ms. On an idle machine, this one, ``MultiThreadedExecutor`` and a single-threaded
executor are within noise of each other (2.1-3.1 ms): what the hop costs is one more
thread to schedule while the cores are busy.

This executor runs the handlers of action servers and action clients on the spin thread --
rclpy's bookkeeping plus the server's goal and cancel callbacks, which must be quick anyway
(``PickPlaceServer``'s screen the goal and flag the supervisor) -- and everything else
(execute callbacks, which rclpy starts as separate tasks, timers, subscriptions, services)
on a pool of ``num_threads`` threads, as ``MultiThreadedExecutor`` does. A callback that
blocks must therefore never be a goal or cancel callback.

Only rclpy's public executor API (``Executor``, ``wait_for_ready_callbacks``, ``wake``) is
used, as it is in Humble and Jazzy.
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
