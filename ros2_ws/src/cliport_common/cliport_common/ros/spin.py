"""Spinning nodes: the one ``main()`` of a node process (:func:`run_node`), and spinning until
a condition holds (the wait loop of the test fixtures and of ``cliport-sim-loop``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from cliport_common.gc_pause import freeze_startup_objects


class _Alive(Protocol):
    def check_alive(self) -> None: ...


@dataclass
class Hosted:
    """The nodes one process spins, on which executor, and what must happen before they go
    (a server stops its goal in flight)."""

    nodes: Sequence[Node]
    executor: Executor | None = None  # None: a SingleThreadedExecutor
    before_shutdown: Callable[[], None] | None = None


def run_node(make: Callable[[], Node | Hosted], args=None, *,
             errors: tuple[type[BaseException], ...] = (), error_prefix: str = "") -> int:
    """The ``main()`` of a node process: ``rclpy.init``, build the node(s), spin until Ctrl-C
    or shutdown, and always clean up (``before_shutdown``, the executor, the nodes, rclpy).

    ``errors`` (a wrong parameter or config file) raised while building or spinning print
    ``<error_prefix>: <message>`` on stderr and exit with 2; anything else is a bug and keeps
    its traceback. Once built, the start-up objects are frozen out of the garbage collector's
    full collections (:mod:`cliport_common.gc_pause`), so they cannot pause the node.
    """
    rclpy.init(args=args)
    hosted = None
    try:
        built = make()
        hosted = built if isinstance(built, Hosted) else Hosted([built])
        if hosted.executor is None:
            hosted.executor = SingleThreadedExecutor()
        for node in hosted.nodes:
            hosted.executor.add_node(node)
        freeze_startup_objects()
        hosted.executor.spin()
    except errors as exc:
        print(f"{error_prefix}: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if hosted is not None:
            if hosted.before_shutdown is not None:
                hosted.before_shutdown()
            hosted.executor.shutdown()
            for node in hosted.nodes:
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
        # Ends the executor's suspended wait generator now, while the node and its context
        # live: left to the cyclic GC, it closes its handles after their context is gone
        # (a segfault in a later test).
        executor.shutdown(timeout_sec=0)
