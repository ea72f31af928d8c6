"""The ``perception`` graph (``cliport-run perception``): it loads, its calibration
resolves, and run as a real process it turns the three reference cameras into a
``Heightmap`` with exact box heights and per-camera frame health on ``/diagnostics``."""

from __future__ import annotations

import numpy as np

from cliport_bringup.graph import load_graph
from cliport_perception.sources.calibration_file import load_source_calibration
from cliport_perception.synthetic import Box, reference_cameras, render

BOXES = [Box((0.5, 0.1), (0.05, 0.05, 0.04)), Box((0.4, -0.2), (0.04, 0.06, 0.08), (20, 200, 20))]


def test_graph_loads_and_its_calibration_covers_the_cameras():
    graph = load_graph("perception")
    node = graph.node("perception")
    assert node.entry_point() == ("cliport_perception.nodes.perception_node", "main")
    params = node.inline_parameters()
    assert params["cameras"] == ["front", "left", "right"]
    frames = [f"{c}_color_optical_frame" for c in params["cameras"]]
    cal = load_source_calibration(params["calibration_file"], "base", frames)
    for cam in reference_cameras():
        np.testing.assert_allclose(cal.extrinsic(cam.frame_id), cam.extrinsic, atol=1e-9)


def test_graph_makes_heightmaps_from_the_reference_cameras(node_runner, ros_node):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo

    from cliport_common.ros.spin import spin_until
    from cliport_msgs.msg import Heightmap
    from cliport_perception.heightmap_msg import from_msg
    from cliport_perception.image_conversion import array_to_image

    sets = []
    for cam in reference_cameras():
        name = cam.frame_id.split("_")[0]
        frame = render(cam, BOXES)  # float32 metres, as the simulator renders
        info = CameraInfo(width=cam.width, height=cam.height,
                          k=[cam.fx, 0.0, cam.cx, 0.0, cam.fy, cam.cy, 0.0, 0.0, 1.0])
        info.header.frame_id = cam.frame_id
        msgs = (array_to_image(frame.color, "rgb8", frame_id=cam.frame_id),
                array_to_image(frame.depth, "32FC1", frame_id=cam.frame_id), info)
        topics = (f"/{name}/color/image_raw", f"/{name}/aligned_depth_to_color/image_raw",
                  f"/{name}/aligned_depth_to_color/camera_info")
        pubs = [ros_node.create_publisher(type(m), t, qos_profile_sensor_data)
                for m, t in zip(msgs, topics, strict=True)]
        sets.append((msgs, pubs))

    def publish():
        stamp = ros_node.get_clock().now().to_msg()
        for msgs, pubs in sets:
            for msg, pub in zip(msgs, pubs, strict=True):
                msg.header.stamp = stamp
                pub.publish(msg)

    heightmaps, diags = [], []
    ros_node.create_subscription(Heightmap, "/heightmap", heightmaps.append, 5)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    ros_node.create_timer(0.1, publish)
    node_runner.start(load_graph("perception"))

    def healthy():
        return any(all(s.level == DiagnosticStatus.OK for s in d.status) and
                   len(d.status) == 3 for d in diags)

    assert spin_until(ros_node, lambda: len(heightmaps) >= 2 and healthy(), 60, node_runner), \
        node_runner.processes["perception"].log()
    hm = from_msg(heightmaps[-1])
    assert hm.camera_frames == [f"{c}_color_optical_frame" for c in ("front", "left", "right")]
    for box in BOXES:
        u, v = hm.workspace.xy_to_pixel(*box.center_xy)
        np.testing.assert_allclose(hm.heightmap[u - 3:u + 4, v - 3:v + 4], box.size[2],
                                   atol=0.002)
        assert (hm.colormap[u, v] == box.color).all()
    status = next(d for d in reversed(diags) if len(d.status) == 3).status[0]
    keys = {kv.key for kv in status.values}
    assert {"received_frames", "missed_frames", "dropped_frames", "stale_events",
            "frame_rate_hz", "heightmaps_published"} <= keys
