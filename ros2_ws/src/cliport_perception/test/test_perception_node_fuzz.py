"""Fuzzed camera input over DDS: a real perception node refuses the worst frame sets.

The checks themselves are fuzzed in ``test_rgbd_msg_fuzz.py``; here the worst cases travel as
real messages, each is refused in one line and counted in the diagnostics, and the node still
publishes a heightmap from the next valid frames. The camera is the ``fuzz_rig`` fixture's.
"""

from __future__ import annotations

import array
import math
import threading
import time

from sensor_msgs.msg import CameraInfo, Image

from cliport_common.testing import wait_until


def one_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text and len(text) <= 600, text


def test_the_node_refuses_the_worst_over_dds_and_publishes_from_the_next(ros_node, tmp_path,
                                                                        fuzz_rig):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import qos_profile_sensor_data

    from cliport_msgs.msg import Heightmap
    from cliport_perception.nodes.perception_node import PerceptionNode

    cal = tmp_path / "calibration.yaml"
    cal.write_text(f"base_frame: base\nextrinsics:\n  {fuzz_rig.frame}:\n"
                   f"    position: {fuzz_rig.position}\n"
                   f"    orientation_xyzw: {fuzz_rig.orientation}\n")
    node = PerceptionNode(context=ros_node.context, parameter_overrides=[
        Parameter("cameras", value=["fz"]), Parameter("calibration_file", value=str(cal)),
        Parameter("publish_previews", value=False), Parameter("stale_after", value=2.0)])
    heightmaps, diagnostics = [], []
    ros_node.create_subscription(Heightmap, "/heightmap", heightmaps.append, 5)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: diagnostics.extend(m.status), 10)
    color_pub, depth_pub, info_pub = (
        ros_node.create_publisher(t, name, qos_profile_sensor_data) for t, name in (
            (Image, "/fz/color/image_raw"), (Image, "/fz/aligned_depth_to_color/image_raw"),
            (CameraInfo, "/fz/aligned_depth_to_color/camera_info")))
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    source = node.source

    def wait(predicate, what):
        wait_until(predicate, what, detail=lambda: f"refused: {source.last_rejection}")

    def publish(change=None, ahead_s=0.0):
        """One frame set stamped now (+ ahead_s), ``change(color, depth, info)`` applied;
        the CameraInfo goes first, and is in before the images."""
        stamp = node.get_clock().now().to_msg()
        stamp.sec += int(ahead_s)
        color, depth = fuzz_rig.images()
        info = fuzz_rig.info_msg()
        if change is not None:
            change(color, depth, info)
        for msg in (color, depth, info):
            msg.header.stamp = stamp
        for _ in range(100):  # best effort: again until it is in
            info_pub.publish(info)
            time.sleep(0.01)
            pair = source.sync.latest_pair("fz")
            if pair is None or pair.info.header.stamp == stamp:
                break
        color_pub.publish(color)
        depth_pub.publish(depth)

    def set_k(value):
        return lambda c, d, i: setattr(i, "k", [value] * 9)

    bad = [  # (what, needle of the reason, change)
        ("8UC3 colour", "colour encoding '8UC3'", lambda c, d, i: setattr(c, "encoding",
                                                                          "8UC3")),
        ("mono16 depth", "depth encoding 'mono16'", lambda c, d, i: setattr(d, "encoding",
                                                                            "mono16")),
        ("truncated depth", "truncated 16UC1", lambda c, d, i: setattr(
            d, "data", array.array("B", bytes(d.data)[:-5]))),
        ("padding without data", "truncated rgb8", lambda c, d, i: setattr(c, "step",
                                                                           c.step + 4)),
        ("zero height", "color must be uint8 of shape (12, 16, 3)", lambda c, d, i: (
            setattr(c, "height", 0), setattr(c, "data", array.array("B")))),
        ("NaN K", "k is not finite", set_k(math.nan)),
        ("zero K", "not a pinhole matrix", set_k(0.0)),
        ("3 plumb_bob coefficients", "d has 3 coefficients", lambda c, d, i: setattr(
            i, "d", [0.0] * 3)),
        ("huge CameraInfo", "focal lengths off the optical axis", lambda c, d, i: setattr(
            i, "width", 2**32 - 1)),
        ("CameraInfo of another size", "color must be uint8 of shape (12, 15, 3)",
         lambda c, d, i: setattr(i, "width", fuzz_rig.width - 1)),
        ("depth in another frame", "depth image is in frame 'x'", lambda c, d, i: setattr(
            d.header, "frame_id", "x")),
    ]
    try:
        publish()
        wait(lambda: heightmaps, "a first heightmap")
        for what, needle, change in bad:
            count = source.rejected["fz"]
            publish(change)
            wait(lambda n=count: source.rejected["fz"] > n, f"the {what} set refused")
            assert needle in source.last_rejection["fz"], (what, source.last_rejection)
            one_line(source.last_rejection["fz"])
        count = source.rejected["fz"]
        publish(ahead_s=3600)  # held back, it would block every later frame
        wait(lambda: source.rejected["fz"] >= count + 2, "the future images refused")
        assert "s in the future" in source.last_rejection["fz"]
        published = len(heightmaps)
        publish()
        wait(lambda: len(heightmaps) > published, "a heightmap after the bad sets")
        wait(lambda: any(s.level == DiagnosticStatus.OK and s.hardware_id == "fz"
                         for s in diagnostics[-3:]), "an OK diagnostic")
        warned = [s for s in diagnostics if s.level == DiagnosticStatus.WARN
                  and s.message.startswith("refused: ")]
        assert warned, [s.message for s in diagnostics]
        values = {v.key: v.value for v in diagnostics[-1].values}
        assert int(values["rejected_frames"]) == len(bad) + 2
        one_line(values["last_rejection"])
    finally:
        executor.shutdown()
        spinner.join(5)
        node.destroy_node()
