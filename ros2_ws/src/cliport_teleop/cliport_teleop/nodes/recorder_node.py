"""``teleop_recorder``: the web page for demonstrations by hand, recording as it goes.

Subscribes the ``Heightmap``, serves the page (``http://<host>:<port>/?token=...``, the URL
logged at start), sends each of the operator's steps as a ``PickPlace`` goal to the executor,
and records accepted steps in the sim dataset format. Works against the sim stack and the
real stack alike: it only needs a heightmap and a PickPlace server. A configuration it cannot
serve safely (a non-loopback host without a token) stops it with a one-line error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from cliport_common.config import ConfigError
from cliport_common.poses import pose_stamped, yaw_of
from cliport_common.ros.params import declare_config
from cliport_common.ros.spin import run_node
from cliport_common.stamps import stamp_to_ns
from cliport_msgs.action import PickPlace
from cliport_msgs.msg import Heightmap
from cliport_perception.heightmap_msg import from_msg
from cliport_perception.image_conversion import image_to_array
from cliport_perception.rgbd import depth_to_uint16
from cliport_teleop.config import load_recorder_config
from cliport_teleop.session import Step, TeleopSession
from cliport_teleop.web import WebServer


class TeleopRecorder(Node):
    def __init__(self) -> None:
        super().__init__("teleop_recorder")
        self.cfg = cfg = declare_config(self, load_recorder_config())
        self.session = TeleopSession(cfg)
        self.client = ActionClient(self, PickPlace, cfg.action_name)
        self.create_subscription(Heightmap, cfg.heightmap_topic, self._on_heightmap, 2)
        for camera in cfg.views_cameras:
            for kind, template in (("color", cfg.color_topic), ("depth", cfg.depth_topic)):
                self.create_subscription(
                    Image, template.format(camera=camera),
                    lambda m, c=camera, k=kind: self._on_view(c, k, m), qos_profile_sensor_data)
        self.create_timer(0.05, self._send_pending)
        try:
            self.web = WebServer(self.session, on_refusal=self._on_refusal)
        except OSError as exc:
            self.session.close()
            raise ConfigError(f"cannot serve the teleop page on {cfg.host}:{cfg.port}: "
                              f"{exc}") from None
        url = (self.web.page_url if not cfg.token
               else f"{self.web.url}?token=<the configured token>")
        self.get_logger().info(f"teleop page at {url} ; episodes go to "
                               f"{self.session.root} ({self.session.writer.n_episodes} there)")
        if self.web.exposed:
            self.get_logger().warn(
                f"the teleop page is bound to {cfg.host}, reachable from other machines "
                f"(as {sorted(self.web.allowed_hosts)}): anyone with the token can move the arm")

    def _on_refusal(self, r: dict[str, Any]) -> None:
        self.get_logger().warn(f"refused {r['method']} {r['path']} from {r['client']}: "
                               f"{r['status']} {r['message']}", throttle_duration_sec=5.0)

    def _decoded(self, decode: Callable[[Any], Any], msg, what: str) -> Any:
        """``decode(msg)``, or None after a (throttled) warning that ``what`` was ignored."""
        try:
            return decode(msg)
        except ValueError as exc:  # ImageConversionError is one
            self.get_logger().warn(f"ignored {what}: {exc}", throttle_duration_sec=5.0)
            return None

    def _on_heightmap(self, msg: Heightmap) -> None:
        frame = self._decoded(from_msg, msg, "a malformed heightmap")
        if frame is not None:
            self.session.on_heightmap(frame, stamp_to_ns(msg.header.stamp))

    def _on_view(self, camera: str, kind: str, msg) -> None:
        image = self._decoded(image_to_array, msg, f"a {kind} image of {camera}")
        if image is None:
            return
        if kind == "depth" and image.dtype != np.uint16:  # 32FC1 metres -> millimetres
            image = depth_to_uint16(image)
        self.session.on_view(camera, kind, np.ascontiguousarray(image))

    def _send_pending(self) -> None:
        step = self.session.take_goal()
        if step is None:
            return
        if not self.client.wait_for_server(timeout_sec=self.cfg.server_timeout):
            self.session.on_goal_failed(f"the executor is not available (no PickPlace server "
                                        f"on {self.cfg.action_name})")
            return
        (p0, q0), (p1, q1) = step.pose0, step.pose1
        self.get_logger().info(
            f"goal: pick ({p0[0]:.4f}, {p0[1]:.4f}, {p0[2]:.4f}) yaw "
            f"{math.degrees(yaw_of(q0)):.1f} deg -> place ({p1[0]:.4f}, {p1[1]:.4f}, "
            f"{p1[2]:.4f}) yaw {math.degrees(yaw_of(q1)):.1f} deg in {step.frame.frame_id}")
        goal = PickPlace.Goal(instruction=step.instruction)
        stamp = self.get_clock().now().to_msg()
        goal.pick = pose_stamped(step.pose0, step.frame.frame_id, stamp)
        goal.place = pose_stamped(step.pose1, step.frame.frame_id, stamp)
        future = self.client.send_goal_async(
            goal, feedback_callback=lambda fb: self.session.on_feedback(
                fb.feedback.phase, fb.feedback.progress))
        future.add_done_callback(lambda f, s=step: self._on_goal_response(f, s))

    def _on_goal_response(self, future, step: Step) -> None:
        try:
            handle = future.result()
        except Exception as exc:  # noqa: BLE001 - report it on the page
            self.session.on_goal_failed(f"sending the goal failed: {exc}")
            return
        if not handle.accepted:
            self.session.on_goal_failed("the executor rejected the goal (see its log)")
            return
        handle.get_result_async().add_done_callback(self._on_result)

    def _on_result(self, future) -> None:
        try:
            r = future.result().result
        except Exception as exc:  # noqa: BLE001
            self.session.on_goal_failed(f"no result from the executor: {exc}")
            return
        self.session.on_result(r.success, r.message, r.reward, r.has_reward)

    def destroy_node(self) -> None:
        self.web.close()
        self.session.close()
        self.client.destroy()  # rclpy's destroy_node leaves action clients alone
        super().destroy_node()


def main(args=None) -> int:
    return run_node(TeleopRecorder, args, errors=(ConfigError,), error_prefix="teleop_recorder")


if __name__ == "__main__":
    raise SystemExit(main())
