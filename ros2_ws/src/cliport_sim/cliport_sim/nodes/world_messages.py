"""Messages of a simulated world published like a real rig (the sim and twin nodes'
conversions and their ``sim/reset`` and ``sim/recording`` services), and the executor
configuration of a server that runs inside a world's process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sensor_msgs.msg import CameraInfo, JointState
from std_srvs.srv import Trigger

from cliport_common.config import ConfigError, from_dict, load_yaml, to_dict
from cliport_common.poses import pose_stamped
from cliport_common.ros.params import flatten, unflatten
from cliport_executor.config import ExecutorConfig, load_executor_config
from cliport_perception.sources.calibration_file import resolve_file

SERVER_NODE = "pick_place_server"


def camera_info(data, stamp) -> CameraInfo:
    """``sensor_msgs/CameraInfo`` of a :class:`~cliport_sim.franka.rig.CameraInfoData`."""
    info = CameraInfo(width=int(data.width), height=int(data.height))
    info.header.stamp, info.header.frame_id = stamp, data.frame_id
    info.k = [float(v) for v in data.k]
    info.p = [float(v) for v in data.p]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.d = [float(v) for v in data.d]
    info.distortion_model = data.distortion_model
    return info


def joint_state(names: Sequence[str], positions: Sequence[float],
                velocities: Sequence[float], stamp) -> JointState:
    msg = JointState(name=list(names), position=[float(v) for v in positions],
                     velocity=[float(v) for v in velocities])
    msg.header.stamp = stamp
    return msg


def decision_message(msg, action, instruction: str, frame_id: str, workspace, stamp):
    """Fill a ``cliport_msgs/PickPlaceDecision`` with an oracle ``Action``."""
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.instruction = instruction
    msg.pick = pose_stamped(action.pose0, frame_id, stamp)
    msg.place = pose_stamped(action.pose1, frame_id, stamp)
    msg.policy = f"oracle:{action.primitive}"
    msg.pick_u, msg.pick_v = (int(v) for v in workspace.xy_to_pixel(*action.pose0[0][:2]))
    msg.place_u, msg.place_v = (int(v) for v in workspace.xy_to_pixel(*action.pose1[0][:2]))
    return msg


class EpisodeServices:
    """Node mixin: a world node's ``sim/reset`` and ``sim/recording`` services (std_srvs
    Trigger). The node has ``world`` (a :class:`~cliport_sim.world_thread.WorldThread`),
    ``recorder`` (a :class:`~cliport_sim.recording.StateRecorder`, None: recording off) and
    ``_announce()`` (its status for a new scene); shared by the UR5 sim and the twin."""

    def serve_episodes(self) -> None:
        """Create both services and start recording the current episode (once the world is
        built)."""
        self.create_service(Trigger, "sim/reset", self._reset)
        self.create_service(Trigger, "sim/recording", self._recording)
        self._start_recording()

    def _reset(self, _request, response):
        """The world's next episode (recorded from its start), then the announcement. A
        failed reset is answered, not raised, so the node keeps serving."""
        try:
            ep = self.world.reset()
            self._start_recording()
        except Exception as exc:  # noqa: BLE001 - report it, keep serving
            response.success, response.message = False, f"reset failed: {exc}"
            return response
        self._announce()
        response.success = True
        response.message = f"episode seed {ep.seed}: {ep.lang_goal}"
        return response

    def _start_recording(self) -> None:
        if self.recorder is not None:
            self.world.call(self.recorder.start, self.world.env)

    def _recording(self, _request, response):
        """The episode's recorded states so far (base64 of
        :class:`cliport_sim.recording.Recording`, taken on the world thread) for its video."""
        if self.recorder is None:
            response.success, response.message = False, "recording is off (record_fps 0)"
            return response
        response.success = True
        response.message = self.world.call(self.recorder.recording).to_text()
        return response


def _server_parameters(path) -> dict[str, Any]:
    """The ``/**`` and ``pick_place_server`` parameters of a ROS parameters file."""
    data = load_yaml(path)
    params: dict[str, Any] = {}
    for node in ("/**", SERVER_NODE, f"/{SERVER_NODE}"):
        section = data.get(node)
        if isinstance(section, dict):
            params.update(section.get("ros__parameters") or {})
    return params


def executor_config(param_files: Sequence[str], base_frame: str) -> ExecutorConfig:
    """executor.yaml's defaults with the parameter files applied in order, then
    ``base_frame``: what ``pick_place_server`` would read from the same files."""
    flat = flatten(to_dict(load_executor_config()))
    for url in param_files:
        path = resolve_file(url)
        for key, value in _server_parameters(path).items():
            if key not in flat:
                raise ConfigError(f"{path}: unknown executor parameter {key!r}")
            flat[key] = value
    flat["base_frame"] = base_frame
    return from_dict(ExecutorConfig, unflatten(flat), where="executor parameters")
