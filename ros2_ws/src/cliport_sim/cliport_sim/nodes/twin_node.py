"""``twin``: the Franka twin published like the real rig, its arm behind ``PickPlace``.

One process, two nodes on one executor:

* ``twin`` publishes the camera as realsense2_camera does (``/camera/camera/color/image_raw``
  rgb8, ``/camera/camera/aligned_depth_to_color/image_raw`` 16UC1 millimetres, both
  ``camera_info``; frame ``camera_color_optical_frame``), at the rig's 30 Hz of simulated
  time while the arm moves and ``idle_camera_rate`` between goals; ``/joint_states`` (the
  arm's and the fingers' positions and velocities, with every frame); and, like the UR5 sim
  node, ``sim/status`` (JSON: seed, step, rewards, done, lang_goal, ``scene``,
  ``oracle_stamp_ns``; ``sim_time``, and ``held``: how many objects the hand holds),
  ``sim/instruction`` and ``sim/oracle`` (the task oracle's decision,
  one per scene, in ``base_frame``), all latched, and the services ``sim/reset`` and
  ``sim/recording`` (the episode's states so far at ``record_fps``, base64 of
  :class:`cliport_sim.recording.Recording`, for its video; each executed goal marked). The
  names are the sim node's, so ``cliport-sim-loop`` runs oracle episodes on the twin
  unchanged, videos included.
* ``pick_place_server`` is the executor's real action server with the ``moveit`` backend's
  sequencing on the twin's arm and hand (:class:`~cliport_sim.twin_backend.TwinBackend`). It
  lives in this process because the arm does (one PyBullet world, one thread); its
  parameters come from ``executor_params``, the files real.yaml gives the real server. Its
  timeouts run on simulated time: the twin may run slower than real time (rendering the
  camera costs ~0.1 s a frame on a CPU), and the real arm's limits are in the arm's time.
"""

from __future__ import annotations

import json

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String

from cliport_common.config import ConfigError
from cliport_common.ros.params import declare_config
from cliport_common.ros.qos import latched
from cliport_common.ros.spin import Hosted, run_node
from cliport_common.stamps import ns_to_stamp, stamp_to_ns
from cliport_executor.nodes.pick_place_server import PickPlaceServer, hosted
from cliport_perception.image_conversion import array_to_image
from cliport_sim.nodes.world_messages import (
    EpisodeServices,
    camera_info,
    decision_message,
    executor_config,
    joint_state,
)
from cliport_sim.recording import RecordsSteps, StateRecorder
from cliport_sim.twin_backend import TwinBackend
from cliport_sim.twin_world import TwinWorld, load_twin_config

LATCHED = latched(1)


class RecordingTwinBackend(RecordsSteps, TwinBackend):
    """The twin's backend that also marks each executed goal in the twin node's recording
    (its result is drawn on the episode's video)."""


class TwinNode(EpisodeServices, Node):
    def __init__(self) -> None:
        super().__init__("twin")
        self.config = cfg = declare_config(self, load_twin_config())
        self.world = None
        from cliport_msgs.msg import PickPlaceDecision

        self._decision_type = PickPlaceDecision
        self.status_pub = self.create_publisher(String, "sim/status", LATCHED)
        self.instruction_pub = self.create_publisher(String, "sim/instruction", LATCHED)
        self.oracle_pub = self.create_publisher(PickPlaceDecision, "sim/oracle", LATCHED)
        self.joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self._decision = None  # (scene, PickPlaceDecision): the one decision per scene
        self._cam = None
        self.recorder = StateRecorder(cfg.record_fps) if cfg.record_fps > 0 else None
        self.world = TwinWorld(cfg, on_frame=self._publish_frame,
                               clock_ns=lambda: self.get_clock().now().nanoseconds)
        names = self.world.rig.names
        self._cam = tuple(self.create_publisher(t, topic, qos_profile_sensor_data)
                          for t, topic in ((Image, names.color_image),
                                           (CameraInfo, names.color_info),
                                           (Image, names.depth_image),
                                           (CameraInfo, names.depth_info)))
        self._info = self.world.rig.camera_info()
        self.serve_episodes()
        self._last_scene = -1
        self.create_timer(0.5, self._publish_status)
        self._announce()
        self.get_logger().info(
            f"twin up: task {cfg.task}, camera on {names.color_image} "
            f"({self.world.camera_fps:g} Hz of simulated time), base frame {cfg.base_frame}")

    # ------------------------------------------------------------------ publishing
    def _publish_frame(self, frame, stamp_ns: int) -> None:
        """On the world thread: one camera frame and the joint states of that moment."""
        if self._cam is None or not self.context.ok():  # building, or shutting down
            return
        stamp = ns_to_stamp(stamp_ns)
        info = camera_info(self._info, stamp)
        color_pub, color_info_pub, depth_pub, depth_info_pub = self._cam
        fid = self._info.frame_id
        color_pub.publish(array_to_image(frame.color, "rgb8", frame_id=fid, stamp=stamp))
        color_info_pub.publish(info)
        depth_pub.publish(array_to_image(frame.depth, "16UC1", frame_id=fid, stamp=stamp))
        depth_info_pub.publish(info)
        joints = self.world.joint_state()
        if joints is not None:
            self.joint_pub.publish(joint_state(*joints, stamp))

    def _publish_status(self) -> None:
        if self.world.episode.scene != self._last_scene:
            self._announce()

    def _announce(self) -> None:
        """Status, instruction and the oracle's decision for one scene, taken together (the
        status names the decision's stamp, so clients match the two by stamp)."""
        ep, action = self.world.snapshot()
        held = len(self.world.call(self.world.held_objects))
        self._last_scene = ep.scene
        decision = None
        if action is not None:
            if self._decision is None or self._decision[0] != ep.scene:
                msg = decision_message(self._decision_type(), action, ep.lang_goal,
                                       self.config.base_frame, self.world.env.workspace,
                                       self.get_clock().now().to_msg())
                self._decision = (ep.scene, msg)
            decision = self._decision[1]
        stamp_ns = (stamp_to_ns(decision.header.stamp)
                    if decision is not None else None)
        self.status_pub.publish(String(data=json.dumps({
            "task": self.config.task, **ep.as_dict(), "oracle_stamp_ns": stamp_ns,
            "sim_time": round(self.world.sim_time, 4), "held": held})))
        self.instruction_pub.publish(String(data=ep.lang_goal))
        if decision is not None:
            self.oracle_pub.publish(decision)

    def destroy_node(self) -> None:
        if self.world is not None:
            self.world.close()
        super().destroy_node()


def _hosted() -> Hosted:
    """The twin and the ``PickPlace`` server that moves its arm, in one process."""
    twin = TwinNode()
    try:
        config = executor_config(twin.config.executor_params, twin.config.base_frame)
    except ConfigError:
        twin.destroy_node()
        raise
    # Its own name, and the parameters real.yaml's files give the real server: the
    # process's --ros-args (the twin's name remap and parameters) are not for it.
    backend = RecordingTwinBackend(config, world=twin.world, recorder=twin.recorder)
    server = PickPlaceServer(backend=backend, defaults=config,
                             clock=lambda: twin.world.sim_time, use_global_arguments=False)
    return hosted(server, twin, who="the twin")


def main(args=None) -> int:
    # a wrong parameter or file: one line, exit code 2
    return run_node(_hosted, args, errors=(ConfigError,), error_prefix="twin")

if __name__ == "__main__":
    raise SystemExit(main())
