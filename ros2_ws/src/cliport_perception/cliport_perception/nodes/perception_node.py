"""``perception``: N RGB-D cameras -> ``cliport_msgs/Heightmap`` in the arm's base frame.

Thin node: subscribes to colour, aligned depth and CameraInfo of every camera (sensor-data
QoS, depth 2: only the newest frames matter), pairs them with the core ``FrameSync``, and
on a timer fuses each *new* complete set with the core ``Fuser``: always from the latest
frames, never a backlog. A stale or missing camera is reported (log + ``/diagnostics``)
and no heightmap is made until every camera is fresh again. Bad frames are logged and
skipped; the node keeps serving.
"""

from __future__ import annotations

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from cliport_msgs.msg import Heightmap
from cliport_perception.calibration import load_calibration
from cliport_perception.camera import CameraModel
from cliport_perception.fusion import Fuser
from cliport_perception.heightmap_msg import HeightmapFrame, to_msg
from cliport_perception.image_conversion import array_to_image, image_to_array
from cliport_perception.perception_config import load_perception_config
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.ros.params import declare_config
from cliport_perception.sync import FrameSync, SyncStatus


def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        self.config = cfg = declare_config(self, load_perception_config())
        if not cfg.calibration_file:
            raise ValueError("parameter calibration_file is empty: point it at a calibration "
                             "YAML with the cameras' optical-frame extrinsics")
        self.calibration = load_calibration(cfg.calibration_file)
        if self.calibration.base_frame != cfg.base_frame:
            raise ValueError(f"calibration is in frame {self.calibration.base_frame!r}, "
                             f"the node in {cfg.base_frame!r}")
        self.fuser = Fuser(cfg.workspace)
        self.sync = FrameSync(cfg.cameras, cfg.sync_slop, cfg.stale_after)
        self._models: dict[str, CameraModel] = {}
        for cam in cfg.cameras:
            color, depth, info = cfg.topics(cam)
            self.create_subscription(Image, color, self._add(self.sync.add_color, cam),
                                     qos_profile_sensor_data)
            self.create_subscription(Image, depth, self._add(self.sync.add_depth, cam),
                                     qos_profile_sensor_data)
            self.create_subscription(CameraInfo, info,
                                     lambda msg, cam=cam: self.sync.add_info(cam, msg),
                                     qos_profile_sensor_data)
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
        self.create_timer(1.0 / cfg.rate, self._tick)
        self.get_logger().info(f"perception ready: cameras {cfg.cameras} -> "
                               f"{cfg.heightmap_topic} in {cfg.base_frame}")

    def _add(self, add, cam: str):
        return lambda msg: add(cam, _stamp_ns(msg.header), msg)

    def _camera_model(self, info: CameraInfo) -> CameraModel:
        key = (info.header.frame_id, tuple(info.k), info.width, info.height)
        model = self._models.get(key)
        if model is None:
            model = CameraModel.from_intrinsics_matrix(
                info.k, info.width, info.height,
                self.calibration.extrinsic(info.header.frame_id),
                self.config.depth_scale, info.header.frame_id)
            self._models[key] = model
        return model

    def _tick(self) -> None:
        now = self.get_clock().now().nanoseconds
        status = self.sync.poll(now)
        if status is None:
            return
        if not status.complete:
            self._report(status, now)
            return
        self.sync.mark_used(status)
        try:
            frames = []
            for pair in status.pairs.values():
                depth = image_to_array(pair.depth)
                if pair.depth.encoding not in ("16UC1", "32FC1"):
                    raise ValueError(f"depth encoding {pair.depth.encoding} (want 16UC1/32FC1)")
                color = image_to_array(pair.color)
                if pair.color.encoding == "bgr8":
                    color = color[..., ::-1]
                elif pair.color.encoding != "rgb8":
                    raise ValueError(f"colour encoding {pair.color.encoding} (want rgb8/bgr8)")
                frames.append(RGBDFrame(np.ascontiguousarray(color), depth,
                                        self._camera_model(pair.info), pair.stamp_ns))
            maps = self.fuser.fuse(frames)
        except (ValueError, KeyError) as exc:
            self.get_logger().error(f"skipping a frame set: {exc}", throttle_duration_sec=1.0)
            return
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
        self._report(status, now)

    def _report(self, status: SyncStatus, now_ns: int) -> None:
        if now_ns - self._last_diag_ns < 1_000_000_000 and status.complete:
            return
        self._last_diag_ns = now_ns
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for cam in self.config.cameras:
            st = DiagnosticStatus(name=f"perception: {cam}", hardware_id=cam)
            if cam in status.stale:
                st.level, st.message = DiagnosticStatus.WARN, "stale"
            elif cam in status.missing:
                st.level, st.message = DiagnosticStatus.WARN, "no colour/depth/info pair"
            else:
                st.level, st.message = DiagnosticStatus.OK, "ok"
            st.values = [KeyValue(key="dropped_frames", value=str(self.sync.dropped[cam])),
                         KeyValue(key="heightmaps_published", value=str(self.published))]
            array.status.append(st)
        self.diag.publish(array)
        if not status.complete:
            self.get_logger().warning(
                f"no heightmap: stale cameras {status.stale}, missing {status.missing}",
                throttle_duration_sec=2.0)


def main(args=None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = PerceptionNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
