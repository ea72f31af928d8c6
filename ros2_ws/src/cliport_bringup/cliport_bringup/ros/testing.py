"""pytest fixtures for tests that run real ROS 2 node processes.

``node_runner`` starts nodes from graph descriptions or NodeSpecs as real processes and
stops every one of them when the test ends, passed or failed (process groups are
killed, so no orphan survives). ``ros_node`` gives the test process its own rclpy
context and node. Loaded as a pytest plugin by the repository's conftest.py.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cliport_bringup.runner import GraphRunner


@pytest.fixture
def node_runner(tmp_path) -> Iterator[GraphRunner]:
    runner = GraphRunner(log_dir=tmp_path / "node_logs")
    try:
        yield runner
    finally:
        runner.stop()


@pytest.fixture
def ros_node(request) -> Iterator:
    """An rclpy node in a fresh context, destroyed after the test."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"test_{request.node.name[:40]}".replace("[", "_").replace("]", "_")
                             .replace("-", "_"), context=context)
    try:
        yield node
    finally:
        gc.collect()  # executors the test dropped close their waits before the context ends
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def spin_forever(node) -> int:
    """Body of a test's helper node process: spin until SIGINT from the runner, then exit 0."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()
    return 0
