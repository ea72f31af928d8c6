"""Spinning nodes: the ``main()`` of a one-node process, and spinning until a condition holds
(the wait loop of the test fixtures and of ``cliport-sim-loop``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from cliport_common.gc_pause import freeze_startup_objects


class _Alive(Protocol):
    def check_alive(self) -> None: ...


def run_node(make_node: Callable[[], Node], args=None) -> int:
    """Build the node (after ``rclpy.init``), spin it, and always destroy it and shut down.

    Once built, the start-up objects are frozen out of the garbage collector's full
    collections (:mod:`cliport_common.gc_pause`), so they cannot pause the node.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        freeze_startup_objects()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def spin_until(node: Node, predicate: Callable[[], bool], timeout: float,
               runner: _Alive | None = None) -> bool:
    """Spin ``node`` until ``predicate()`` holds or ``timeout`` s pass; True if it held.

    ``runner`` (a :class:`cliport_bringup.runner.GraphRunner`): checked between spins, so a
    dead node process fails fast with its log instead of running out the timeout.
    """
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
