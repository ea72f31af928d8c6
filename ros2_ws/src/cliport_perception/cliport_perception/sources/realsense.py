"""Intel RealSense cameras read directly with pyrealsense2 (no ROS driver).

Not verified on hardware here (no camera on the development machines); the calls are
the documented pyrealsense2 2.5x API (docs/design.md#realsense):
one ``rs.pipeline`` per device selected by serial, colour (rgb8) and depth (z16) at the
configured size and rate, ``rs.align(rs.stream.color)`` so depth lands on colour pixels,
the depth scale read from the device's depth sensor, the pinhole intrinsics from the
colour stream profile (D4xx colour distortion is negligible; the model is logged), and
the extrinsics from the calibration YAML keyed by each camera's optical frame.

``pyrealsense2`` is imported inside :meth:`RealSenseSource.connect`, so this module,
its config and its checks work on machines without it (it is not a project
requirement: ``pip install pyrealsense2`` where a camera is attached). One process owns
a device, so do not run the ROS ``realsense2_camera`` driver on the same camera.

Cameras are read one after another, each ``wait_for_frames`` giving that device's
newest unread frame set; devices are not hardware-synchronised, which is fine for the
static scenes a pick-and-place step looks at.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cliport_common.config import ConfigError, config_path, load_config
from cliport_common.frames import BASE_FRAME
from cliport_perception.camera import CameraModel
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.sources.base import RGBDSource, SourceError, register_source
from cliport_perception.sources.calibration_file import load_source_calibration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealSenseCamera:
    name: str
    serial: str = ""  # empty: the one connected device (only with a single camera)
    frame_id: str = ""  # optical frame in the calibration; default <name>_color_optical_frame

    @property
    def optical_frame(self) -> str:
        return self.frame_id or f"{self.name}_color_optical_frame"


@dataclass(frozen=True)
class RealSenseConfig:
    cameras: list[RealSenseCamera] = field(
        default_factory=lambda: [RealSenseCamera("camera")])
    calibration_file: str = ""  # path or package://pkg/config/file.yaml; required
    base_frame: str = BASE_FRAME
    width: int = 640
    height: int = 480
    fps: int = 30
    timeout_ms: int = 2000  # wait_for_frames limit per camera
    warn_period: float = 5.0  # s between frame-health warnings

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ConfigError("realsense: at least one camera is needed")
        for key in ("width", "height", "fps", "timeout_ms"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"realsense: {key} must be a positive integer, got {value!r}")
        if not self.warn_period > 0:
            raise ConfigError(f"realsense: warn_period must be > 0, got {self.warn_period}")
        for what, values in (("names", [c.name for c in self.cameras]),
                             ("optical frames", [c.optical_frame for c in self.cameras])):
            if len(set(values)) != len(values):
                raise ConfigError(f"realsense: camera {what} must be unique, got {values}")
        if any(not c.name for c in self.cameras):
            raise ConfigError("realsense: every camera needs a name")
        serials = [c.serial for c in self.cameras]
        if len(self.cameras) > 1 and (not all(serials) or len(set(serials)) != len(serials)):
            raise ConfigError(f"realsense: with {len(self.cameras)} cameras every camera needs "
                              f"its own serial number, got {serials}")


def load_realsense_config(path: str | Path | None = None) -> RealSenseConfig:
    """``config/realsense.yaml`` (or ``path``), section ``realsense``."""
    return load_config(RealSenseConfig,
                       path or config_path("cliport_perception", "realsense.yaml"), "realsense")


def import_pyrealsense2():
    """The pyrealsense2 module, or a SourceError that says how to get it."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        raise SourceError(f"the realsense source needs pyrealsense2, which is not installed "
                          f"here ({exc}); install it with `pip install pyrealsense2` on the "
                          f"machine the cameras are plugged into") from exc
    return rs


@dataclass
class _Device:
    camera: RealSenseCamera
    pipeline: object
    align: object
    model: CameraModel


@register_source("realsense")
class RealSenseSource(RGBDSource):
    """One or more RealSense devices by serial, colour + colour-aligned depth."""

    config_class = RealSenseConfig

    def __init__(self, config: RealSenseConfig) -> None:
        if not isinstance(config, RealSenseConfig):
            raise ConfigError(f"RealSenseSource needs a RealSenseConfig, got "
                              f"{type(config).__name__}")
        super().__init__([c.name for c in config.cameras], warn_period_s=config.warn_period)
        self.config = config
        # Checked now, so a wrong calibration fails before any device is opened.
        self.calibration = load_source_calibration(
            config.calibration_file, config.base_frame,
            [c.optical_frame for c in config.cameras])
        self._devices: list[_Device] = []

    def camera_models(self) -> list[CameraModel]:
        """The connected cameras' models (intrinsics, depth scale, extrinsics), in order."""
        return [d.model for d in self._devices]

    def _connect(self) -> None:
        rs = import_pyrealsense2()
        try:
            context = rs.context()
            connected = {d.get_info(rs.camera_info.serial_number)
                         for d in context.query_devices()}
        except RuntimeError as exc:
            raise SourceError(f"cannot list RealSense devices: {exc}") from exc
        if not connected:
            raise SourceError("no RealSense device is connected (check the USB 3 cable and "
                              "that no other process, e.g. realsense2_camera, holds it)")
        if len(self.config.cameras) == 1 and not self.config.cameras[0].serial \
                and len(connected) > 1:
            raise SourceError(f"{len(connected)} RealSense devices are connected "
                              f"({sorted(connected)}): set the camera's serial")
        for cam in self.config.cameras:
            if cam.serial and cam.serial not in connected:
                raise SourceError(f"camera {cam.name!r}: no RealSense device with serial "
                                  f"{cam.serial}; connected: {sorted(connected)}")
        try:
            for cam in self.config.cameras:
                self._devices.append(self._start(rs, context, cam))
        except BaseException:
            self._disconnect()
            raise

    def _start(self, rs, context, cam: RealSenseCamera) -> _Device:
        cfg = self.config
        pipeline = rs.pipeline(context)
        rs_config = rs.config()
        if cam.serial:
            rs_config.enable_device(cam.serial)
        rs_config.enable_stream(rs.stream.color, cfg.width, cfg.height, rs.format.rgb8, cfg.fps)
        rs_config.enable_stream(rs.stream.depth, cfg.width, cfg.height, rs.format.z16, cfg.fps)
        try:
            profile = pipeline.start(rs_config)
        except RuntimeError as exc:
            raise SourceError(f"camera {cam.name!r} ({cam.serial or 'any serial'}): cannot "
                              f"stream colour+depth {cfg.width}x{cfg.height} at {cfg.fps} Hz: "
                              f"{exc}") from exc
        try:
            depth_scale = profile.get_device().first_depth_sensor().get_depth_scale()
            intr = profile.get_stream(rs.stream.color).as_video_stream_profile() \
                .get_intrinsics()
            log.info("camera %s: %dx%d fx=%.2f fy=%.2f cx=%.2f cy=%.2f distortion %s %s, "
                     "depth scale %g m", cam.name, intr.width, intr.height, intr.fx, intr.fy,
                     intr.ppx, intr.ppy, intr.model, list(intr.coeffs), depth_scale)
            model = CameraModel(int(intr.width), int(intr.height), float(intr.fx),
                                float(intr.fy), float(intr.ppx), float(intr.ppy),
                                self.calibration.extrinsic(cam.optical_frame),
                                float(depth_scale), cam.optical_frame)
        except BaseException:
            with contextlib.suppress(RuntimeError):
                pipeline.stop()
            raise
        return _Device(cam, pipeline, rs.align(rs.stream.color), model)

    def _read(self) -> list[RGBDFrame]:
        return [self._read_device(d) for d in self._devices]

    def _read_device(self, dev: _Device) -> RGBDFrame:
        name = dev.camera.name
        try:
            frames = dev.pipeline.wait_for_frames(self.config.timeout_ms)
            aligned = dev.align.process(frames)
        except RuntimeError as exc:
            self.health.set_stale(name, True)
            raise SourceError(f"camera {name!r}: no frames within {self.config.timeout_ms} ms "
                              f"({exc})") from exc
        color_frame = aligned.get_color_frame()
        depth_frame = aligned.get_depth_frame()
        if not color_frame or not depth_frame:
            raise SourceError(f"camera {name!r}: frame set without colour or aligned depth")
        # Copies: the SDK reuses its frame buffers once the frame objects are released.
        color = np.array(np.asanyarray(color_frame.get_data()), dtype=np.uint8)
        depth = np.array(np.asanyarray(depth_frame.get_data()), dtype=np.uint16)
        stamp_ns = int(round(color_frame.get_timestamp() * 1e6))  # ms -> ns
        self.health.set_stale(name, False)
        self.health.on_frame(name, stamp_ns, seq=int(color_frame.get_frame_number()))
        return RGBDFrame(color, depth, dev.model, stamp_ns)

    def _disconnect(self) -> None:
        devices, self._devices = self._devices, []
        for dev in devices:
            with contextlib.suppress(RuntimeError):
                dev.pipeline.stop()
