"""``sim``: the PyBullet world published like a real setup, with the arm behind ``PickPlace``.

One process, two nodes on one executor:

* ``sim`` publishes, per camera (front, left, right), what realsense2_camera publishes:
  ``/<camera>/color/image_raw`` (rgb8), ``/<camera>/color/camera_info``,
  ``/<camera>/aligned_depth_to_color/image_raw`` (16UC1, millimetres) and its camera_info,
  stamped together, frame ``<camera>_color_optical_frame`` (the extrinsics are in
  ``cliport_perception/config/calibration_sim_reference.yaml``); ``sim/status`` (JSON:
  seed, step, rewards, done, lang_goal, ``scene`` (changes with every reset and goal) and
  ``oracle_stamp_ns``, the stamp of the oracle decision for that scene) and
  ``sim/instruction`` (the episode's instruction, latched); ``sim/oracle``
  (cliport_msgs/PickPlaceDecision, the task oracle's next action, one per scene,
  latched); service ``sim/reset`` (std_srvs/Trigger) starts the next episode;
  ``sim/recording`` (Trigger) answers the episode's states so far at ``record_fps``
  (base64 of :class:`cliport_sim.recording.Recording`), for its video.
* ``pick_place_server`` is the executor's action server with the ``sim`` backend on the
  same world: each goal is one step of the episode, its reward in the result.
"""

from __future__ import annotations

import dataclasses
import json

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from cliport_common.frames import BASE_FRAME
from cliport_common.ros.qos import latched
from cliport_common.ros.spin import Hosted, run_node
from cliport_common.stamps import ns_to_stamp, stamp_to_ns
from cliport_executor.config import load_executor_config
from cliport_executor.nodes.pick_place_server import PickPlaceServer, hosted
from cliport_perception.image_conversion import array_to_image
from cliport_perception.rgbd import depth_to_uint16
from cliport_sim.nodes.world_messages import EpisodeServices, decision_message
from cliport_sim.recording import DEFAULT_FPS, RecordsSteps, StateRecorder
from cliport_sim.sim_world import SimWorld, SimWorldConfig, WorldSimBackend

LATCHED = latched(1)


def camera_info(model, stamp, frame_id: str) -> CameraInfo:
    info = CameraInfo(width=int(model.width), height=int(model.height))
    info.header.stamp, info.header.frame_id = stamp, frame_id
    info.k = [float(model.fx), 0.0, float(model.cx), 0.0, float(model.fy), float(model.cy),
              0.0, 0.0, 1.0]
    info.p = [float(model.fx), 0.0, float(model.cx), 0.0, 0.0, float(model.fy),
              float(model.cy), 0.0, 0.0, 0.0, 1.0, 0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    info.distortion_model = "plumb_bob"
    return info


class RecordingSimBackend(RecordsSteps, WorldSimBackend):
    """The world's sim backend that also marks each executed goal in the sim node's
    recording (its result is drawn on the episode's video)."""


class SimNode(EpisodeServices, Node):
    def __init__(self) -> None:
        super().__init__("sim")
        p = self.declare_parameter
        self.world_cfg = SimWorldConfig(
            task=p("task", SimWorldConfig.task).value, mode=p("mode", SimWorldConfig.mode).value,
            seed=int(p("seed", SimWorldConfig.seed).value),
            cameras=tuple(p("cameras", list(SimWorldConfig.cameras)).value),
            camera_noise=bool(p("camera_noise", False).value))
        # Episode states kept for videos (sim/recording), frames per simulated s; 0: none.
        record_fps = int(p("record_fps", DEFAULT_FPS).value)
        self.recorder = StateRecorder(record_fps) if record_fps > 0 else None
        rate = float(p("camera_rate", 2.0).value)
        self.cams = []
        for name in self.world_cfg.cameras:
            pubs = tuple(self.create_publisher(t, f"/{name}/{topic}", qos_profile_sensor_data)
                         for t, topic in ((Image, "color/image_raw"),
                                          (CameraInfo, "color/camera_info"),
                                          (Image, "aligned_depth_to_color/image_raw"),
                                          (CameraInfo, "aligned_depth_to_color/camera_info")))
            self.cams.append((name, pubs))
        self.status_pub = self.create_publisher(String, "sim/status", LATCHED)
        self.instruction_pub = self.create_publisher(String, "sim/instruction", LATCHED)
        self.oracle_pub = None
        try:
            from cliport_msgs.msg import PickPlaceDecision

            self._decision_type = PickPlaceDecision
            self.oracle_pub = self.create_publisher(PickPlaceDecision, "sim/oracle", LATCHED)
        except ImportError:  # pragma: no cover - cliport_msgs is always built by make setup
            self._decision_type = None
        self._decision = None  # (scene, PickPlaceDecision): the one decision per scene
        self.world = SimWorld(self.world_cfg, frame_period=1.0 / rate,
                              on_frames=self._publish_cameras,
                              clock_ns=lambda: self.get_clock().now().nanoseconds)
        self.serve_episodes()
        self._last_scene = -1
        self.create_timer(0.5, self._publish_status)
        self._announce()

    # ------------------------------------------------------------------ publishing
    def _publish_cameras(self, frames, stamp_ns: int) -> None:
        """On the world thread, between goals (while one runs the cameras are silent)."""
        msg_stamp = ns_to_stamp(stamp_ns)
        for (name, (color_pub, color_info_pub, depth_pub, depth_info_pub)), frame in zip(
                self.cams, frames, strict=True):
            frame_id = f"{name}_color_optical_frame"
            info = camera_info(frame.camera, msg_stamp, frame_id)
            color_pub.publish(array_to_image(frame.color, "rgb8", frame_id=frame_id,
                                             stamp=msg_stamp))
            color_info_pub.publish(info)
            depth_pub.publish(array_to_image(depth_to_uint16(frame.depth), "16UC1",
                                             frame_id=frame_id, stamp=msg_stamp))
            depth_info_pub.publish(info)

    def _publish_status(self) -> None:
        if self.world.episode.scene != self._last_scene:
            self._announce()

    def _announce(self) -> None:
        """Status, instruction and the oracle's decision for one scene, taken together.

        The decision is made (and stamped) once per scene, and the status names its stamp
        (``oracle_stamp_ns``): a client matches the two instead of trusting arrival order,
        so a decision announced just before a goal ran is never taken for the next scene."""
        ep, action = self.world.snapshot()
        self._last_scene = ep.scene
        decision = self._oracle_decision(ep, action)
        stamp_ns = (stamp_to_ns(decision.header.stamp)
                    if decision is not None else None)
        self.status_pub.publish(String(data=json.dumps({"task": self.world_cfg.task,
                                                        **ep.as_dict(),
                                                        "oracle_stamp_ns": stamp_ns})))
        self.instruction_pub.publish(String(data=ep.lang_goal))
        if decision is not None:
            self.oracle_pub.publish(decision)

    def _oracle_decision(self, ep, action):
        if self.oracle_pub is None or action is None:
            return None
        if self._decision is not None and self._decision[0] == ep.scene:
            return self._decision[1]
        msg = decision_message(self._decision_type(), action, ep.lang_goal, BASE_FRAME,
                               self.world.env.workspace, self.get_clock().now().to_msg())
        self._decision = (ep.scene, msg)
        return msg

    def destroy_node(self) -> None:
        self.world.close()
        super().destroy_node()


def _hosted() -> Hosted:
    """The sim node and the ``PickPlace`` server that moves its arm, in one process."""
    sim = SimNode()
    defaults = load_executor_config()
    defaults = dataclasses.replace(defaults, backend="sim",
                                   sim=dataclasses.replace(defaults.sim,
                                                           task=sim.world_cfg.task,
                                                           mode=sim.world_cfg.mode))
    # Its own name and defaults: the process's --ros-args (the sim node's name remap and
    # parameters) are not for it.
    backend = RecordingSimBackend(defaults, world=sim.world, recorder=sim.recorder)
    server = PickPlaceServer(backend=backend,
                             defaults=defaults, use_global_arguments=False)
    return hosted(server, sim, who="the simulation")


def main(args=None) -> int:
    return run_node(_hosted, args)

if __name__ == "__main__":
    raise SystemExit(main())
