"""The ROS-topic source over real rclpy publishers and subscriptions (one process).

Stamps are set explicitly and ``poll`` is given its "now", so pairing, staleness and
frame counting are checked exactly; only message delivery goes through DDS.
"""

import time

import numpy as np
import pytest

from cliport_perception.camera import CameraModel
from cliport_perception.perception_config import PerceptionConfig
from cliport_perception.sources import SourceError
from cliport_perception.synthetic import Box, render

MS = 1_000_000
POSITION = [0.5, 0.0, 1.0]
ORIENTATION = [0.7071067811865476, -0.7071067811865476, 0.0, 0.0]  # looking straight down
CAMERAS = ["ts_a", "ts_b"]
K = (60.0, 0.0, 32.0, 0.0, 60.0, 24.0, 0.0, 0.0, 1.0)


def frame_id(cam):
    return f"{cam}_color_optical_frame"


@pytest.fixture
def setup(ros_node, tmp_path):
    """(source node, publisher node, source, publish, spin_until) with a calibration."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    from cliport_perception.image_conversion import array_to_image
    from cliport_perception.ros.topic_source import TopicSource

    cal = tmp_path / "cal.yaml"
    cal.write_text("base_frame: base\nextrinsics:\n" + "".join(
        f"  {frame_id(c)}:\n    position: {POSITION}\n    orientation_xyzw: {ORIENTATION}\n"
        for c in CAMERAS))
    config = PerceptionConfig(cameras=CAMERAS, calibration_file=str(cal), sync_slop=0.01,
                              stale_after=0.5)
    source = TopicSource(ros_node, config)
    source.connect()
    pub_node = rclpy.create_node("ts_fake_cameras", context=ros_node.context)
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    executor.add_node(pub_node)
    pubs = {c: [pub_node.create_publisher(t, name, qos_profile_sensor_data)
                for t, name in zip((Image, Image, CameraInfo), config.topics(c), strict=True)]
            for c in CAMERAS}
    scenes = {}
    for i, cam in enumerate(CAMERAS):
        model = CameraModel.from_pose(K, 64, 48, POSITION, ORIENTATION, frame_id=frame_id(cam))
        scenes[cam] = render(model, [Box((0.5, 0.0), (0.1, 0.1, 0.05 * (i + 1)))],
                             depth_uint16=True)

    def spin_until(predicate, timeout=10.0):
        end = time.monotonic() + timeout
        while not predicate() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.02)
        return predicate()

    def publish(cam, stamp_ns, color_encoding="rgb8", info_frame=None):
        """Publish one colour/depth/info set and spin until the source holds it as a pair."""
        scene = scenes[cam]
        color = {"bgr8": scene.color[..., ::-1], "mono8": scene.color[..., 0]}.get(
            color_encoding, scene.color)
        stamp = rclpy.time.Time(nanoseconds=stamp_ns).to_msg()
        info = CameraInfo(width=64, height=48, k=list(K))
        info.header.frame_id = info_frame or frame_id(cam)
        info.header.stamp = stamp
        msgs = (array_to_image(np.ascontiguousarray(color), color_encoding,
                               frame_id=frame_id(cam), stamp=stamp),
                array_to_image(scene.depth, "16UC1", frame_id=frame_id(cam), stamp=stamp),
                info)
        for pub, msg in zip(pubs[cam], msgs, strict=True):
            pub.publish(msg)

        def arrived():
            pair = source.sync.latest_pair(cam)
            return (pair is not None and pair.color_stamp_ns == stamp_ns
                    and pair.info.header.frame_id == info.header.frame_id)

        assert spin_until(arrived), f"{cam} frames at {stamp_ns} not delivered"

    try:
        yield ros_node, source, publish, spin_until, scenes
    finally:
        source.disconnect()
        executor.shutdown()
        pub_node.destroy_node()


def test_pairs_decode_in_camera_order_each_set_once(setup):
    node, source, publish, spin_until, scenes = setup
    t = 1_000 * MS
    publish("ts_b", t, color_encoding="bgr8")
    assert source.poll(t + MS).status.missing == ["ts_a"]  # incomplete: status only, no frames
    publish("ts_a", t + 2 * MS)
    found = source.poll(t + 3 * MS)
    assert found.complete
    assert [f.camera.frame_id for f in found.frames] == [frame_id(c) for c in CAMERAS]
    for cam, frame in zip(CAMERAS, found.frames, strict=True):
        np.testing.assert_array_equal(frame.color, scenes[cam].color)  # bgr8 turned to rgb
        np.testing.assert_array_equal(frame.depth, scenes[cam].depth)
        np.testing.assert_allclose(frame.camera.extrinsic, scenes[cam].camera.extrinsic)
    assert source.poll(t + 4 * MS) is None  # nothing new: no second heightmap


def test_stale_dropped_and_missed_frames_are_counted(setup):
    node, source, publish, spin_until, scenes = setup
    t0 = 1_000 * MS
    for cam in CAMERAS:
        publish(cam, t0)
    assert source.poll(t0 + MS).complete
    # Camera a: 30 Hz with three frames lost after the sixth; camera b goes quiet.
    stamps = [t0 + k * 33 * MS for k in [1, 2, 3, 4, 5, 6, *range(10, 21)]]
    for s in stamps:
        publish("ts_a", s)
    found = source.poll(stamps[-1] + MS)
    assert found.status.stale == ["ts_b"] and not found.complete
    assert source.health["ts_b"].stale and source.health["ts_b"].stale_events == 1
    assert source.health["ts_a"].missed == 3
    publish("ts_b", stamps[-1])
    found = source.poll(stamps[-1] + 2 * MS)
    assert found.complete and not source.health["ts_b"].stale
    assert source.health["ts_a"].dropped == 16  # received, never fused: all but the newest
    assert source.health.values("ts_a")["dropped_frames"] == "16"


def test_get_frames_latest_or_a_clear_error(setup):
    node, source, publish, spin_until, scenes = setup
    with pytest.raises(SourceError, match="'ts_a': no colour/depth/info pair yet on "
                                          r"\['/ts_a/color/image_raw'"):
        source.get_frames()
    now = node.get_clock().now().nanoseconds
    for cam in CAMERAS:
        publish(cam, now - 2_000 * MS)
    with pytest.raises(SourceError, match=r"'ts_a' is stale: newest pair is \d+\.\d+ s old"):
        source.get_frames()
    for cam in CAMERAS:
        publish(cam, now)
    frames = source.get_frames()  # latest, not consumed: poll still sees the set as new
    assert [f.stamp_ns for f in frames] == [now, now]
    assert source.poll(now + MS).complete


def test_bad_frames_are_source_errors(setup):
    node, source, publish, spin_until, scenes = setup
    t = 1_000 * MS
    publish("ts_a", t, info_frame="unknown_optical_frame")
    publish("ts_b", t)
    with pytest.raises(SourceError, match="'ts_a': no extrinsic calibration for camera "
                                          "frame 'unknown_optical_frame'"):
        source.poll(t + MS)
    publish("ts_a", t + 10 * MS, color_encoding="mono8")
    publish("ts_b", t + 10 * MS)
    with pytest.raises(SourceError, match="'ts_a': colour encoding 'mono8'"):
        source.poll(t + 11 * MS)


def test_disconnect_removes_the_subscriptions(setup):
    node, source, publish, spin_until, scenes = setup
    assert len(list(node.subscriptions)) == 3 * len(CAMERAS)
    source.disconnect()
    assert not list(node.subscriptions) and not source.is_connected
    with pytest.raises(SourceError, match="not connected"):
        source.poll(0)
