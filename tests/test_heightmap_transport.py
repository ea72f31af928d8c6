"""A 640x480-scale Heightmap crosses two real processes intact.

This file is also the publisher: the test runs it as a separate process
(``python tests/test_heightmap_transport.py --publish``), so both sides build the expected
content from the same seeded generator.
"""

from __future__ import annotations

import sys

import numpy as np

from cliport_perception.workspace import Workspace

# 480 rows (y) x 640 columns (x) at 1 mm: the size of a RealSense frame.
WORKSPACE = Workspace(x_min=0.1, x_max=0.74, y_min=-0.24, y_max=0.24, z_min=0.0, z_max=0.3,
                      pixel_size=0.001)
TOPIC = "/test_heightmap"
SEED = 20261123


def expected_frame():
    from cliport_perception.heightmap_msg import HeightmapFrame

    rng = np.random.default_rng(SEED)
    rows, cols = WORKSPACE.shape
    return HeightmapFrame(
        colormap=rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8),
        heightmap=rng.uniform(0.0, 0.3, (rows, cols)).astype(np.float32),
        valid=rng.random((rows, cols)) > 0.1,
        workspace=WORKSPACE, frame_id="base", stamp_ns=1_700_000_000_123_456_789,
        camera_frames=["front_color_optical_frame", "left_color_optical_frame"],
    )


def publish() -> int:
    import rclpy
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

    from cliport_bringup.ros.testing import spin_forever
    from cliport_msgs.msg import Heightmap
    from cliport_perception.heightmap_msg import to_msg

    rclpy.init()
    node = rclpy.create_node("heightmap_test_publisher")
    qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    pub = node.create_publisher(Heightmap, TOPIC, qos)
    msg = to_msg(expected_frame())
    node.create_timer(0.2, lambda: pub.publish(msg))
    return spin_forever(node)


def test_heightmap_between_processes(node_runner, ros_node):
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

    from cliport_common.ros.spin import spin_until
    from cliport_msgs.msg import Heightmap
    from cliport_perception.heightmap_msg import from_msg

    node_runner.start_command("heightmap_pub", [sys.executable, __file__, "--publish"])
    received = []
    qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    ros_node.create_subscription(Heightmap, TOPIC, received.append, qos)
    assert spin_until(ros_node, lambda: len(received) >= 2, 60, node_runner), \
        "no Heightmap arrived"
    got, want = from_msg(received[-1]), expected_frame()
    assert got.workspace == want.workspace
    assert got.heightmap.dtype == np.float32 and got.heightmap.shape == (480, 640)
    np.testing.assert_array_equal(got.heightmap, want.heightmap)
    np.testing.assert_array_equal(got.colormap, want.colormap)
    np.testing.assert_array_equal(got.valid, want.valid)
    assert got.stamp_ns == want.stamp_ns and got.frame_id == "base"
    assert got.camera_frames == want.camera_frames


if __name__ == "__main__" and "--publish" in sys.argv:
    raise SystemExit(publish())
