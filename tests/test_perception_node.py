"""Camera publisher -> perception node -> Heightmap, as real processes; a frozen camera.

This file is also the camera: the test runs it as a separate process
(``python tests/test_perception_node.py --camera``), which publishes synthetic
RealSense-like frame sets (rgb8 colour, 16UC1 millimetre aligned depth, CameraInfo) of
two boxes seen from above at 15 Hz until it gets SIGUSR1, then freezes (stays alive,
publishes nothing).
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np

from cliport_perception.camera import CameraModel
from cliport_perception.synthetic import Box

BOXES = [Box((0.5, 0.1), (0.05, 0.05, 0.04)), Box((0.4, -0.2), (0.04, 0.06, 0.08), (20, 200, 20))]
FRAME = "top_color_optical_frame"
POSITION = [0.5, 0.0, 1.0]
ORIENTATION = [0.7071067811865476, -0.7071067811865476, 0.0, 0.0]  # x_opt=-y, y_opt=-x, z=-z


def camera() -> CameraModel:
    return CameraModel.from_pose((600.0, 0, 320.0, 0, 600.0, 240.0, 0, 0, 1), 640, 480,
                                 POSITION, ORIENTATION, frame_id=FRAME)


def publish_camera() -> int:
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    from cliport_bringup.ros.testing import spin_forever
    from cliport_perception.image_conversion import array_to_image
    from cliport_perception.synthetic import render

    frame = render(camera(), BOXES, depth_uint16=True)
    rclpy.init()
    node = rclpy.create_node("fake_realsense")
    pubs = [node.create_publisher(t, name, qos_profile_sensor_data) for t, name in (
        (Image, "/top/color/image_raw"), (Image, "/top/aligned_depth_to_color/image_raw"),
        (CameraInfo, "/top/aligned_depth_to_color/camera_info"))]
    color = array_to_image(frame.color, "rgb8", frame_id=FRAME)
    depth = array_to_image(frame.depth, "16UC1", frame_id=FRAME)
    info = CameraInfo(width=640, height=480,
                      k=[600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0])
    info.header.frame_id = FRAME
    frozen = []
    signal.signal(signal.SIGUSR1, lambda *_: frozen.append(True))

    def tick() -> None:
        if frozen:
            return  # frozen: alive, silent
        stamp = node.get_clock().now().to_msg()
        for msg, pub in zip((color, depth, info), pubs, strict=True):
            msg.header.stamp = stamp
            pub.publish(msg)

    node.create_timer(1 / 15, tick)
    return spin_forever(node)


def test_heightmap_from_a_camera_and_a_frozen_camera(node_runner, ros_node, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from cliport_bringup.graph import NodeSpec
    from cliport_common.ros.spin import spin_until
    from cliport_msgs.msg import Heightmap
    from cliport_perception.heightmap_msg import from_msg

    cal = tmp_path / "calibration.yaml"
    cal.write_text(f"base_frame: base\nextrinsics:\n  {FRAME}:\n    position: {POSITION}\n"
                   f"    orientation_xyzw: {ORIENTATION}\n")
    heightmaps, stale = [], []
    ros_node.create_subscription(Heightmap, "/heightmap", heightmaps.append, 5)

    def on_diag(msg):
        stale.extend(s for s in msg.status
                     if s.hardware_id == "top" and s.level == DiagnosticStatus.WARN
                     and s.message == "stale")

    ros_node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    node_runner.start_node(NodeSpec(
        name="perception", package="cliport_perception", executable="perception",
        parameters=[{"cameras": ["top"], "calibration_file": str(cal), "stale_after": 1.0}]))
    camera_proc = node_runner.start_command("camera", [sys.executable, __file__, "--camera"])

    assert spin_until(ros_node, lambda: len(heightmaps) >= 3, 60, node_runner), \
        node_runner.processes["perception"].log()
    hm = from_msg(heightmaps[-1])
    assert hm.frame_id == "base" and hm.camera_frames == [FRAME]
    for box in BOXES:
        u, v = hm.workspace.xy_to_pixel(*box.center_xy)
        window = hm.heightmap[u - 3:u + 4, v - 3:v + 4]
        np.testing.assert_allclose(window, box.size[2], atol=0.002)
        assert (hm.colormap[u, v] == box.color).all()
    u, v = hm.workspace.xy_to_pixel(0.7, 0.3)
    assert abs(hm.heightmap[u, v]) <= 0.002

    # Freeze the camera: it is reported stale, and no more heightmaps are made.
    stale.clear()
    camera_proc.popen.send_signal(signal.SIGUSR1)
    assert spin_until(ros_node, lambda: stale, 30, node_runner), "stale camera not reported"

    def spin_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        spin_until(ros_node, lambda: time.monotonic() > end, seconds + 5, node_runner)

    spin_for(2.0)  # on a loaded machine, heightmaps fused before the freeze still arrive
    count = len(heightmaps)
    spin_for(1.5)
    assert len(heightmaps) == count
    assert "stale cameras ['top']" in node_runner.processes["perception"].log()


if __name__ == "__main__" and "--camera" in sys.argv:
    raise SystemExit(publish_camera())
