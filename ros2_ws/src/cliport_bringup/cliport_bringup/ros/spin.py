"""Spin a node until a condition holds: the wait loop of the test fixtures and of
``cliport-sim-loop``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class _Alive(Protocol):
    def check_alive(self) -> None: ...


def spin_until(node, predicate: Callable[[], bool], timeout: float,
               runner: _Alive | None = None) -> bool:
    """Spin ``node`` until ``predicate()`` holds or ``timeout`` s pass; True if it held.

    ``runner`` (a :class:`cliport_bringup.runner.GraphRunner`): checked between spins, so a
    dead node process fails fast with its log instead of running out the timeout.
    """
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            executor.spin_once(timeout_sec=0.05)
            if runner is not None:
                runner.check_alive()
        return predicate()
    finally:
        executor.remove_node(node)
