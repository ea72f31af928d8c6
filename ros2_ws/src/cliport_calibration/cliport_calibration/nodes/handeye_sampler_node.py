"""``handeye_sampler``: collect hand-eye samples from the camera and the robot, then solve.

Services (std_srvs/Trigger; the response message says what happened or why not):
  ~/capture  pair the newest image with the robot pose at its stamp, detect the board, append
  ~/solve    calibrate from the samples so far and write calibration/<setup>.yaml
  ~/clear    start over (the old sample file is kept under a dated name)

Move the arm (teach mode, or the executor), hold still, call ~/capture; 15-20 poses with
varied tilts; then ~/solve. A request that cannot be served is answered success=false with
the reason and the node keeps serving.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from cliport_calibration import transforms
from cliport_calibration.config import load_handeye_config, load_sampler_config
from cliport_calibration.handeye import CalibrationError
from cliport_calibration.session import CameraImage, CaptureError, SamplerSession
from cliport_common.ros.params import declare_config
from cliport_common.ros.spin import run_node
from cliport_common.stamps import stamp_to_ns
from cliport_perception.image_conversion import ImageConversionError, image_to_array
from cliport_perception.sources.calibration_file import resolve_file


def _any_publisher(depth: int) -> QoSProfile:
    """Best effort: matches reliable and best-effort publishers alike. franka_ros2 v3.3+
    publishes current_pose best effort, so a reliable subscriber would never see it."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT,
                      history=HistoryPolicy.KEEP_LAST)


def _pose_matrix(pose) -> np.ndarray:
    p, q = pose.position, pose.orientation
    return transforms.from_pose((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


class HandEyeSampler(Node):
    def __init__(self) -> None:
        super().__init__("handeye_sampler")
        self.cfg = cfg = declare_config(self, load_sampler_config())
        self.handeye = load_handeye_config(resolve_file(cfg.handeye_config)
                                           if cfg.handeye_config else None)
        self.session = SamplerSession(self.handeye, cfg)
        self._info: CameraInfo | None = None
        self._warned_frame = False
        self._tf = None
        if cfg.robot_pose_source == "tf":
            try:
                from tf2_ros import Buffer, TransformListener
            except ImportError as exc:
                raise RuntimeError("robot_pose_source: tf needs tf2_ros (a ROS install); use "
                                   "robot_pose_source: topic with a PoseStamped topic") from exc
            self._tf = Buffer()
            self._tf_listener = TransformListener(self._tf, self)
        else:
            self.create_subscription(PoseStamped, cfg.robot_pose_topic, self._on_pose,
                                     _any_publisher(50))
        self.create_subscription(CameraInfo, cfg.camera_info_topic, self._on_info,
                                 _any_publisher(5))
        self.create_subscription(Image, cfg.image_topic, self._on_image, _any_publisher(2))
        self.create_service(Trigger, "~/capture", self._capture)
        self.create_service(Trigger, "~/solve", self._solve)
        self.create_service(Trigger, "~/clear", self._clear)
        self.get_logger().info(
            f"{self.handeye.calibration_type} calibration '{self.handeye.setup}': "
            f"{len(self.session.samples)} samples in {self.session.samples_path}; "
            f"image {cfg.image_topic}, robot pose from {cfg.robot_pose_source}")

    # ------------------------------------------------------------------ inputs
    def _on_pose(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id
        if frame not in ("", self.handeye.robot_base_frame) and not self._warned_frame:
            self._warned_frame = True
            self.get_logger().warn(f"robot pose is in {msg.header.frame_id!r}, expected "
                                   f"{self.handeye.robot_base_frame!r}")
        try:
            self.session.on_robot_pose(stamp_to_ns(msg.header.stamp), _pose_matrix(msg.pose))
        except ValueError as exc:
            self.get_logger().warn(f"ignored robot pose: {exc}")

    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _on_image(self, msg: Image) -> None:
        info = self._info
        if info is None:
            return
        try:
            array = image_to_array(msg)
        except ImageConversionError as exc:
            self.get_logger().warn(f"ignored image: {exc}", throttle_duration_sec=5.0)
            return
        self.session.on_image(CameraImage(
            array, np.asarray(info.k, dtype=np.float64).reshape(3, 3),
            np.asarray(info.d, dtype=np.float64), stamp_to_ns(msg.header.stamp),
            msg.header.frame_id, int(msg.width), int(msg.height),
            info.distortion_model or "plumb_bob"))

    def _lookup(self, parent: str, child: str, stamp_ns: int | None) -> np.ndarray:
        from rclpy.duration import Duration
        from rclpy.time import Time

        when = Time() if stamp_ns is None else Time(nanoseconds=stamp_ns)
        tf = self._tf.lookup_transform(parent, child, when, timeout=Duration(seconds=0.5))
        t, q = tf.transform.translation, tf.transform.rotation
        return transforms.from_pose((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))

    # ------------------------------------------------------------------ services
    def _serve(self, response, fn):
        try:
            response.message = fn()
            response.success = True
            self.get_logger().info(response.message)
        except (CaptureError, CalibrationError, ValueError, OSError) as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warn(response.message)
        except Exception as exc:  # noqa: BLE001 - a service never takes the node down
            response.success, response.message = False, f"{type(exc).__name__}: {exc}"
            self.get_logger().error(response.message)
        return response

    def _capture(self, _request, response):
        def run() -> str:
            T = None
            if self._tf is not None:
                img = self.session.latest
                if img is None:
                    raise CaptureError(f"no image received yet on {self.cfg.image_topic}")
                T = self._lookup(self.handeye.robot_base_frame,
                                 self.handeye.robot_effector_frame, img.stamp_ns)
            return self.session.capture(T)
        return self._serve(response, run)

    def _solve(self, _request, response):
        def run() -> str:
            T_child_optical = None
            if self._tf is not None and (self.handeye.tracking_base_frame
                                         != self.handeye.camera_optical_frame):
                T_child_optical = self._lookup(self.handeye.tracking_base_frame,
                                               self.handeye.camera_optical_frame, None)
            return self.session.solve(T_child_optical)
        return self._serve(response, run)

    def _clear(self, _request, response):
        return self._serve(response, self.session.clear)


def main(args=None) -> int:
    return run_node(HandEyeSampler, args)


if __name__ == "__main__":
    raise SystemExit(main())
