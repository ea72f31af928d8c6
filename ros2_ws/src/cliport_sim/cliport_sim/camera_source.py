"""The simulator as one more RGB-D source (perception's :class:`RGBDSource`).

Fusion, the perception node and their tests see the PyBullet cameras exactly as they see
pyrealsense2 devices or ROS topics: :meth:`get_frames` returns one
:class:`~cliport_perception.rgbd.RGBDFrame` per camera in a fixed order. The source either
renders an existing :class:`~cliport_sim.environment.Environment` (the sim node, demo
generation: :meth:`SimCameraSource.from_environment`) or, built by name through
``make_source("sim", {...})``, owns a world of its own made from a task and a seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cliport_perception.rgbd import RGBDFrame
from cliport_perception.sources.base import RGBDSource, SourceError, register_source


@dataclass(frozen=True)
class SimSourceConfig:
    """Cameras to read; for a world of the source's own, the task, mode and seed."""

    cameras: list[str] = field(default_factory=lambda: ["front", "left", "right"])
    task: str = "put-block-in-bowl-seen-colors"
    mode: str = "test"
    seed: int = 10001
    noise: bool = False


@register_source("sim")
class SimCameraSource(RGBDSource):
    """The simulated RealSense-like cameras, rendered on every :meth:`get_frames`."""

    config_class = SimSourceConfig

    def __init__(self, config: SimSourceConfig | None = None) -> None:
        self.config = config or SimSourceConfig()
        super().__init__(list(self.config.cameras))
        self._env = None
        self._owns_env = False

    @classmethod
    def from_environment(cls, env, cameras: list[str] | None = None) -> SimCameraSource:
        """A source rendering ``env`` (the caller keeps owning and closing it)."""
        names = cameras or [c.name for c in env.camera_configs]
        src = cls(SimSourceConfig(cameras=names, noise=env.config.camera_noise))
        src._env = env
        return src

    def _connect(self) -> None:
        if self._env is not None:
            self._check_cameras(self._env)
            return
        from cliport_sim.environment import Environment, SimConfig
        from cliport_sim.tasks import TaskSetupError, make_task

        try:
            task = make_task(self.config.task, self.config.mode)
        except ValueError as exc:
            raise SourceError(f"sim source: {exc}") from exc
        env = Environment(task, SimConfig(observe=False, camera_noise=self.config.noise))
        try:
            self._check_cameras(env)
            env.reset(self.config.seed)
        except (SourceError, TaskSetupError) as exc:
            env.close()
            raise SourceError(f"sim source: {exc}") from exc
        self._env, self._owns_env = env, True

    def _check_cameras(self, env) -> None:
        known = [c.name for c in env.camera_configs]
        unknown = [n for n in self.camera_names if n not in known]
        if unknown:
            raise SourceError(f"sim source: unknown cameras {unknown}; the simulator has "
                              f"{known}")

    def _read(self) -> list[RGBDFrame]:
        env = self._env
        if env is None or env.client < 0:
            raise SourceError("sim source: the simulator is closed")
        return env.camera_frames(self.camera_names, stamp_ns=time.time_ns())

    def _disconnect(self) -> None:
        if self._owns_env and self._env is not None:
            self._env.close()
            self._env = None
        self._owns_env = False
