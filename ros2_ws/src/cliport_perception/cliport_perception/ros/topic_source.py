"""RGB-D frames from ROS topics: colour + aligned depth + CameraInfo for each camera.

The ROS side of the perception node, as an :class:`~cliport_perception.sources.RGBDSource`
so the node itself stays thin. Topic names come from the perception config's templates
(realsense2_camera's by default: ``/<camera>/color/image_raw``,
``/<camera>/aligned_depth_to_color/image_raw`` and its ``camera_info``). Messages go into
the core :class:`~cliport_perception.sync.FrameSync` (approximate-time pairing, latest only)
and are decoded into ``RGBDFrame`` only when a set is used: a skipped frame costs nothing.
Extrinsics come from the calibration, matched by the frame id the driver stamps on the
CameraInfo. Frame health (missed / dropped / stale) is kept in ``self.health``; frames
refused (:mod:`cliport_perception.rgbd_msg`: stamped ahead of the clock on arrival,
undecodable when used) are counted in ``self.rejected`` with the latest reason, and
warned about at most once per ``warn_period_s``.

The source does not spin: the node's executor delivers the messages, and the node calls
:meth:`TopicSource.poll` from its timer. ``get_frames()`` (the generic interface) returns
the latest set without waiting, or raises :class:`SourceError` while a camera is missing
or stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from cliport_common.stamps import stamp_to_ns
from cliport_perception.calibration import Calibration
from cliport_perception.camera import CameraModel
from cliport_perception.perception_config import PerceptionConfig
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.rgbd_msg import camera_from_info, future_stamp, rgbd_frame
from cliport_perception.sources.base import RGBDSource, SourceError
from cliport_perception.sources.calibration_file import load_source_calibration
from cliport_perception.sync import FrameSync, Pair, SyncStatus


@dataclass
class FrameSet:
    """What one poll found: the sync status, and the decoded frames when complete."""

    status: SyncStatus
    frames: list[RGBDFrame]

    @property
    def complete(self) -> bool:
        return self.status.complete and bool(self.frames)


class TopicSource(RGBDSource):
    """N cameras published as ROS topics, read through a node's subscriptions."""

    name = "ros_topics"

    def __init__(self, node: Node, config: PerceptionConfig,
                 calibration: Calibration | None = None, history: int = 4,
                 warn_period_s: float = 5.0,
                 on_frame: Callable[[], None] | None = None) -> None:
        """``on_frame`` is called after every colour or depth image is stored (on the
        executor thread): the node fuses from there as soon as a set is complete."""
        super().__init__(config.cameras, warn_period_s=warn_period_s)
        self.node = node
        self.config = config
        self.calibration = calibration or load_source_calibration(config.calibration_file,
                                                                  config.base_frame)
        self.sync = FrameSync(config.cameras, config.sync_slop, config.stale_after, history)
        self.on_frame = on_frame
        self.warn_period_s = warn_period_s
        self._subscriptions: list = []
        # the latest model per optical frame: a CameraInfo that keeps changing cannot grow it
        self._models: dict[str, tuple[tuple, CameraModel]] = {}
        self.rejected = dict.fromkeys(self.camera_names, 0)  # frames / pairs refused
        self.last_rejection = dict.fromkeys(self.camera_names, "")  # the latest reason
        self.rejecting: set[str] = set()  # cameras whose latest pair was refused

    def topics(self, camera: str) -> tuple[str, str, str]:
        """(colour, aligned depth, camera info) topic of one camera."""
        return self.config.topics(camera)

    def _connect(self) -> None:
        sub = self.node.create_subscription
        for cam in self.camera_names:
            color, depth, info = self.topics(cam)
            self._subscriptions += [
                sub(Image, color, lambda m, c=cam: self._on_color(c, m), qos_profile_sensor_data),
                sub(Image, depth, lambda m, c=cam: self._on_depth(c, m), qos_profile_sensor_data),
                sub(CameraInfo, info, lambda m, c=cam: self.sync.add_info(c, m),
                    qos_profile_sensor_data),
            ]

    def _reject(self, camera: str, reason: str, log: bool) -> None:
        """Count a refused frame; ``log``: warn about it here (at most once a warn period)."""
        self.rejected[camera] += 1
        self.last_rejection[camera] = reason
        if log:
            self.node.get_logger().warning(f"camera {camera!r}: frame refused: {reason}",
                                           throttle_duration_sec=self.warn_period_s)

    def _arrived(self, camera: str, msg: Image) -> int | None:
        """The stamp of an arriving image, or None when it is refused."""
        stamp = stamp_to_ns(msg.header.stamp)
        problem = future_stamp(stamp, self.node.get_clock().now().nanoseconds,
                               self.config.stale_after)
        if problem is not None:  # not kept: it would hold back every later frame as old
            self._reject(camera, problem, log=True)
            return None
        return stamp

    def _on_color(self, camera: str, msg: Image) -> None:
        stamp = self._arrived(camera, msg)
        if stamp is None:
            return
        self.health.on_frame(camera, stamp)
        self.sync.add_color(camera, stamp, msg)
        if self.on_frame is not None:
            self.on_frame()

    def _on_depth(self, camera: str, msg: Image) -> None:
        stamp = self._arrived(camera, msg)
        if stamp is None:
            return
        self.sync.add_depth(camera, stamp, msg)
        if self.on_frame is not None:
            self.on_frame()

    def _disconnect(self) -> None:
        subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            self.node.destroy_subscription(sub)

    def poll(self, now_ns: int, partial_wait_ns: int = 0,
             all_new_only: bool = False) -> FrameSet | None:
        """The newest complete set if it is new, the status if incomplete, else None.

        A complete set is marked used (it is never returned twice) and decoded; a set
        that cannot be decoded raises :class:`SourceError` and is skipped.
        """
        if not self.is_connected:
            raise SourceError("ros_topics source is not connected: call connect() first")
        status = self.sync.poll(now_ns, partial_wait_ns, all_new_only)
        if not all_new_only:  # that check hides stale cameras: leave their state alone
            for cam in self.camera_names:
                self.health.set_stale(cam, status is not None and cam in status.stale)
        if status is None:
            return None
        if not status.complete:
            return FrameSet(status, [])
        self.sync.mark_used(status)
        for cam in self.camera_names:
            self.health.set_dropped(cam, self.sync.dropped[cam])
        return FrameSet(status, [self._decode(status.pairs[c]) for c in self.camera_names])

    def _read(self) -> list[RGBDFrame]:
        now = self.node.get_clock().now().nanoseconds
        frames = []
        for cam in self.camera_names:
            pair = self.sync.latest_pair(cam)
            if pair is None:
                raise SourceError(f"camera {cam!r}: no colour/depth/info pair yet on "
                                  f"{list(self.topics(cam))}")
            age = (now - pair.stamp_ns) / 1e9
            if age > self.config.stale_after:
                raise SourceError(f"camera {cam!r} is stale: newest pair is {age:.2f} s old")
            frames.append(self._decode(pair))
        return frames

    def _decode(self, pair: Pair) -> RGBDFrame:
        try:
            frame = rgbd_frame(pair.color, pair.depth, pair.info, self._model(pair.info),
                               pair.stamp_ns)
        except (ValueError, KeyError) as exc:
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            self.rejecting.add(pair.camera)
            self._reject(pair.camera, str(reason), log=False)  # poll's caller logs
            raise SourceError(f"camera {pair.camera!r}: {reason}") from exc
        self.rejecting.discard(pair.camera)
        return frame

    def _model(self, info: CameraInfo) -> CameraModel:
        frame_id = info.header.frame_id
        key = (tuple(info.k), tuple(info.d), info.distortion_model, info.width, info.height)
        cached = self._models.get(frame_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        model = camera_from_info(info, self.calibration.extrinsic(frame_id),
                                 self.config.depth_scale)
        self._models[frame_id] = (key, model)
        return model
