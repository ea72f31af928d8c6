"""The ``main()`` of a one-node process: init, spin until Ctrl-C / shutdown, clean up."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from cliport_perception.gc_pause import freeze_startup_objects


def run_node(make_node: Callable[[], Node], args=None) -> int:
    """Build the node (after ``rclpy.init``), spin it, and always destroy it and shut down.

    Once built, the start-up objects are frozen out of the garbage collector's full
    collections (:mod:`cliport_perception.gc_pause`), so they cannot pause the node.
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
