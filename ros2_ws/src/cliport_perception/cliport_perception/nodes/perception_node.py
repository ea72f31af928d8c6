"""``perception``: N RGB-D cameras -> ``cliport_msgs/Heightmap`` in the arm's base frame.

Thin node: the ROS-topic source (:mod:`cliport_perception.ros.topic_source`) subscribes to
colour, aligned depth and CameraInfo of every camera and pairs them; the node fuses each
*new* complete set with the core ``Fuser`` as soon as every camera has a new pair
(``fuse_on_arrival``), and on a timer (``rate``) a set where only some cameras are new once
those have waited a period: always from the latest frames, never a backlog. A stale or
missing camera is reported (log + ``/diagnostics``) and no heightmap is made until every
camera is fresh again. Frame health per camera (received, missed, dropped, stale events,
rate) goes into ``/diagnostics``, and a rate-limited warning summarises problems. Bad
frames (:mod:`cliport_perception.rgbd_msg`) are refused with a rate-limited warning, counted
in ``/diagnostics`` (``rejected_frames``, ``last_rejection``; the camera is WARN while its
latest pair is refused) and skipped; the node keeps serving.
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image

from cliport_common.ros.params import declare_config
from cliport_common.ros.spin import run_node
from cliport_msgs.msg import Heightmap
from cliport_perception.fusion import Fuser
from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.image_conversion import array_to_image
from cliport_perception.perception_config import load_perception_config
from cliport_perception.ros.topic_source import TopicSource
from cliport_perception.sources.base import SourceError
from cliport_perception.sources.calibration_file import load_source_calibration
from cliport_perception.sync import SyncStatus

REFUSAL_LOG_PERIOD = 1.0  # s between warnings about refused frame sets

DIAG_PERIOD_NS = 1_000_000_000  # /diagnostics at most once a second, unless the state changes


class PerceptionNode(Node):
    def __init__(self, *, context=None, parameter_overrides=None) -> None:
        """``context``, ``parameter_overrides``: as rclpy's ``Node`` (a node in a test)."""
        super().__init__("perception", context=context,
                         parameter_overrides=parameter_overrides)
        self.config = cfg = declare_config(self, load_perception_config())
        self.calibration = load_source_calibration(cfg.calibration_file, cfg.base_frame)
        self.fuser = Fuser(cfg.workspace, floor_tolerance=cfg.floor_tolerance)
        self._partial_wait_ns = int(1e9 / cfg.rate) if cfg.fuse_on_arrival else 0
        self.source = TopicSource(self, cfg, self.calibration, warn_period_s=cfg.warn_period,
                                  on_frame=self._on_frame if cfg.fuse_on_arrival else None)
        self.source.connect()
        self.pub = self.create_publisher(Heightmap, cfg.heightmap_topic, 2)
        self.preview_color = self.preview_height = None
        if cfg.publish_previews:
            self.preview_color = self.create_publisher(
                Image, f"{cfg.heightmap_topic}/colormap_preview", 2)
            self.preview_height = self.create_publisher(
                Image, f"{cfg.heightmap_topic}/height_preview", 2)
        self.diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.published = 0
        self._last_diag_ns = 0
        self._last_state: tuple | None = None
        self._said_waiting = False  # the one start-up note before the first frames
        self.create_timer(1.0 / cfg.rate, self._tick)
        self.get_logger().info(f"perception ready: cameras {cfg.cameras} -> "
                               f"{cfg.heightmap_topic} in {cfg.base_frame}")

    def _on_frame(self) -> None:
        """A camera image arrived: fuse now if every camera has a new pair."""
        self._tick(all_new_only=True)

    def _tick(self, all_new_only: bool = False) -> None:
        now = self.get_clock().now().nanoseconds
        warning = self.source.health.warning(now)
        if warning:
            self.get_logger().warning(warning)
        try:
            found = self.source.poll(now, self._partial_wait_ns, all_new_only)
        except SourceError as exc:
            self.get_logger().warning(f"skipping a frame set: {exc}",
                                      throttle_duration_sec=REFUSAL_LOG_PERIOD)
            self._report(SyncStatus(), now)
            return
        if found is None:
            return
        if not found.complete:
            self._report(found.status, now)
            return
        try:
            maps = self.fuser.fuse(found.frames)
        except ValueError as exc:
            self.get_logger().warning(f"skipping a frame set: {exc}",
                                      throttle_duration_sec=REFUSAL_LOG_PERIOD)
            return
        frames = found.frames
        frame = HeightmapFrame(maps.colormap, maps.heightmap, self.config.workspace,
                               valid=maps.valid, frame_id=self.config.base_frame,
                               stamp_ns=min(f.stamp_ns for f in frames),
                               camera_frames=[f.camera.frame_id for f in frames])
        msg = to_msg(frame)
        self.pub.publish(msg)
        self.published += 1
        if self.preview_color is not None:
            self.preview_color.publish(msg.colormap)
            ws = self.config.workspace
            scaled = np.clip(maps.heightmap / (ws.z_max - ws.z_min) * 255, 0, 255)
            self.preview_height.publish(array_to_image(scaled.astype(np.uint8), "mono8",
                                                       header=msg.header))
        self._report(found.status, now)

    def _report(self, status: SyncStatus, now_ns: int) -> None:
        refusing = {c: self.source.last_rejection[c] for c in sorted(self.source.rejecting)}
        state = (tuple(status.stale), tuple(status.missing), tuple(refusing))
        if now_ns - self._last_diag_ns < DIAG_PERIOD_NS and state == self._last_state:
            return
        self._last_diag_ns, self._last_state = now_ns, state
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for cam in self.config.cameras:
            st = DiagnosticStatus(name=f"perception: {cam}", hardware_id=cam)
            if cam in status.stale:
                st.level, st.message = DiagnosticStatus.WARN, "stale"
            elif cam in status.missing:
                st.level, st.message = DiagnosticStatus.WARN, "no colour/depth/info pair"
            elif cam in refusing:
                st.level, st.message = DiagnosticStatus.WARN, f"refused: {refusing[cam]}"
            else:
                st.level, st.message = DiagnosticStatus.OK, "ok"
            values = self.source.health.values(cam)
            values["heightmaps_published"] = str(self.published)
            values["rejected_frames"] = str(self.source.rejected[cam])
            values["last_rejection"] = self.source.last_rejection[cam]
            st.values = [KeyValue(key=k, value=v) for k, v in values.items()]
            array.status.append(st)
        self.diag.publish(array)
        if status.complete:
            return
        if self.published == 0 and not status.stale and not self._said_waiting:
            # starting up: the cameras' first frames are not here yet (a note, not a fault)
            self._said_waiting = True
            self.get_logger().info(f"waiting for the first frames of {status.missing}")
        elif self.published > 0 or status.stale:
            self.get_logger().warning(
                f"no heightmap: stale cameras {status.stale}, missing {status.missing}",
                throttle_duration_sec=self.config.warn_period)

    def destroy_node(self) -> None:
        self.source.disconnect()
        super().destroy_node()


def main(args=None) -> int:
    return run_node(PerceptionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
