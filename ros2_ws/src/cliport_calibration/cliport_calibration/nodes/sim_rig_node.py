"""``handeye_sim_rig``: the simulator's calibration scene, published like a real setup.

The colour image and CameraInfo as a RealSense driver publishes them, and the tool pose as
a PoseStamped (franka_robot_state_broadcaster's ``current_pose`` style), all with one stamp.
``~/next_pose`` (std_srvs/Trigger) moves the tool to the next sample pose. The scene is static
between moves, so the last render is re-published at ``publish_hz`` with fresh stamps.
Lets the whole ``handeye_sampler`` workflow run, and be tested, without hardware.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from cliport_calibration import transforms
from cliport_calibration.sim import (
    EYE_IN_HAND_MOUNT,
    EYE_TO_HAND_MOUNT,
    TABLE_BOARD_POSE,
    SimCalibrationConfig,
    SimRig,
    sample_tool_poses,
    scaled_camera,
    sim_camera_matrix,
)
from cliport_common.frames import BASE_FRAME
from cliport_common.ros.spin import run_node
from cliport_perception.image_conversion import array_to_image


class HandEyeSimRig(Node):
    def __init__(self) -> None:
        super().__init__("handeye_sim_rig")
        self.calibration_type = self.declare_parameter("calibration_type", "eye_to_hand").value
        camera_name = self.declare_parameter("camera", "front").value
        seed = int(self.declare_parameter("seed", 0).value)
        image_topic = self.declare_parameter("image_topic", "/camera/camera/color/image_raw").value
        info_topic = self.declare_parameter("camera_info_topic",
                                            "/camera/camera/color/camera_info").value
        pose_topic = self.declare_parameter("robot_pose_topic", "/sim/tool_pose").value
        hz = float(self.declare_parameter("publish_hz", 2.0).value)
        self.cfg = SimCalibrationConfig(calibration_type=self.calibration_type,
                                        camera=camera_name, seed=seed)
        self.rng = np.random.default_rng(seed)
        self.camera = scaled_camera(camera_name, self.cfg.scale)
        self.K = sim_camera_matrix(self.camera)
        eye_to_hand = self.calibration_type == "eye_to_hand"
        self.mount = transforms.from_pose(*(EYE_TO_HAND_MOUNT if eye_to_hand
                                            else EYE_IN_HAND_MOUNT))
        self.frame_id = (f"{camera_name}_color_optical_frame" if eye_to_hand
                         else "hand_color_optical_frame")
        self.rig = SimRig(self.cfg.board)
        if not eye_to_hand:
            self.rig.place_board(transforms.from_pose(*TABLE_BOARD_POSE))
        self.poses = iter(sample_tool_poses(self.cfg, self.rng))
        self.image_pub = self.create_publisher(Image, image_topic, 2)
        self.info_pub = self.create_publisher(CameraInfo, info_topic, 2)
        self.pose_pub = self.create_publisher(PoseStamped, pose_topic, 10)
        self.image: np.ndarray | None = None
        self.T_tip: np.ndarray | None = None
        self.create_service(Trigger, "~/next_pose", self._next_pose)
        self.create_timer(1.0 / hz, self._publish)

    def _next_pose(self, _request, response):
        for T_target in self.poses:
            T_tip = self.rig.move_tool(T_target)
            if T_tip is None:
                continue
            if self.calibration_type == "eye_to_hand":
                self.rig.place_board(T_tip @ self.mount)
                self.image = self.rig.render(self.camera, None, self.rng, True)
            else:
                self.image = self.rig.render(self.camera, T_tip @ self.mount, self.rng, True)
            self.T_tip = T_tip
            self._publish()
            response.success = True
            response.message = f"tool at {np.round(T_tip[:3, 3], 3).tolist()}"
            return response
        response.success, response.message = False, "no more sample poses"
        return response

    def _publish(self) -> None:
        if self.image is None:
            return
        stamp = self.get_clock().now().to_msg()
        info = CameraInfo()
        info.header.stamp, info.header.frame_id = stamp, self.frame_id
        info.width, info.height = self.camera.width, self.camera.height
        info.k = [float(v) for v in self.K.reshape(-1)]
        info.d = [0.0] * 5
        info.distortion_model = "plumb_bob"
        info.p = [float(v) for v in np.hstack([self.K, np.zeros((3, 1))]).reshape(-1)]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        self.info_pub.publish(info)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, BASE_FRAME
        t, q = transforms.to_pose(self.T_tip)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = t
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = q
        self.pose_pub.publish(pose)
        self.image_pub.publish(array_to_image(self.image, "rgb8", frame_id=self.frame_id,
                                              stamp=stamp))

    def destroy_node(self) -> None:
        self.rig.close()
        super().destroy_node()


def main(args=None) -> int:
    return run_node(HandEyeSimRig, args)


if __name__ == "__main__":
    raise SystemExit(main())
