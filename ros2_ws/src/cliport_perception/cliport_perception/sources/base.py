"""The RGB-D source interface: every camera input looks the same to its users.

Following the lerobot camera pattern, a source is an object with ``connect()``,
``get_frames()`` and ``disconnect()`` (also usable as a context manager). Whatever is
behind it (pyrealsense2 devices, ROS topics, the PyBullet simulator) it hands out
:class:`~cliport_perception.rgbd.RGBDFrame` objects, one per camera, always in the order
of ``camera_names``, so fusion and its tests never depend on where frames come from.

Sources are found by name. Built-in ones register themselves with
:func:`register_source`; a source in another package (the simulator) either registers
when its module is imported, or declares an entry point in the group
``cliport_perception.sources`` (``name = package.module:Class``), which
:func:`make_source` loads on demand. Core code: no rclpy here.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib.metadata
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cliport_common.config import ConfigError, from_dict
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.sources.health import FrameHealth

ENTRY_POINT_GROUP = "cliport_perception.sources"


class SourceError(RuntimeError):
    """A source cannot connect, or cannot deliver frames (the message says why)."""


class RGBDSource(abc.ABC):
    """N synchronised RGB-D cameras behind one interface.

    Subclasses implement :meth:`_connect`, :meth:`_read` and :meth:`_disconnect`; the
    public methods add the checks every source needs (connected state, one frame per
    camera, the right type), so no source can skip them.
    """

    name: ClassVar[str] = "abstract"
    config_class: ClassVar[type | None] = None  # the dataclass make_source builds from a dict

    def __init__(self, camera_names: list[str], warn_period_s: float = 5.0) -> None:
        names = [str(n) for n in camera_names]
        if not names:
            raise ConfigError(f"{type(self).__name__}: at least one camera is needed")
        if len(set(names)) != len(names):
            raise ConfigError(f"{type(self).__name__}: camera names must be unique: {names}")
        self._camera_names = names
        self._connected = False
        self.health = FrameHealth(names, warn_period_s=warn_period_s)

    @property
    def camera_names(self) -> list[str]:
        """Camera names, in the order of the frames :meth:`get_frames` returns."""
        return list(self._camera_names)

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        """Open every camera; raise :class:`SourceError` naming the one that failed."""
        if self._connected:
            raise SourceError(f"{self.name} source is already connected")
        self._connect()
        self._connected = True

    def get_frames(self) -> list[RGBDFrame]:
        """The latest frame of every camera, in ``camera_names`` order."""
        if not self._connected:
            raise SourceError(f"{self.name} source is not connected: call connect() first")
        frames = list(self._read())
        if len(frames) != len(self._camera_names):
            raise SourceError(f"{self.name} source returned {len(frames)} frames for "
                              f"{len(self._camera_names)} cameras {self._camera_names}")
        for cam, frame in zip(self._camera_names, frames, strict=True):
            if not isinstance(frame, RGBDFrame):
                raise SourceError(f"{self.name} source returned {type(frame).__name__} for "
                                  f"camera {cam!r}, not an RGBDFrame")
        return frames

    def disconnect(self) -> None:
        """Release every camera; safe to call twice and after a failed connect."""
        try:
            self._disconnect()
        finally:
            self._connected = False

    def __enter__(self) -> RGBDSource:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    @abc.abstractmethod
    def _connect(self) -> None:
        """Open the cameras (raise SourceError); undo partial work on failure."""

    @abc.abstractmethod
    def _read(self) -> list[RGBDFrame]:
        """One frame per camera in ``camera_names`` order (raise SourceError)."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Release whatever is open; must tolerate a partial or no connection."""


_REGISTRY: dict[str, type[RGBDSource]] = {}


def register_source(name: str) -> Callable[[type[RGBDSource]], type[RGBDSource]]:
    """Class decorator: make a source constructible by name with :func:`make_source`."""
    def deco(cls: type[RGBDSource]) -> type[RGBDSource]:
        if not (isinstance(cls, type) and issubclass(cls, RGBDSource)):
            raise TypeError(f"register_source({name!r}) needs an RGBDSource subclass, "
                            f"got {cls!r}")
        other = _REGISTRY.get(name)
        if other is not None and other is not cls:
            raise ValueError(f"source name {name!r} is already taken by "
                             f"{other.__module__}.{other.__qualname__}")
        _REGISTRY[name] = cls
        cls.name = name
        return cls
    return deco


def _from_entry_point(name: str) -> type[RGBDSource] | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                cls = ep.load()
            except Exception as exc:  # noqa: BLE001 - report any import failure the same way
                raise SourceError(f"source {name!r}: cannot load entry point {ep.value}: "
                                  f"{exc}") from exc
            if not (isinstance(cls, type) and issubclass(cls, RGBDSource)):
                raise SourceError(f"source {name!r}: entry point {ep.value} is not an "
                                  f"RGBDSource subclass")
            return register_source(name)(cls)
    return None


def available_sources() -> list[str]:
    """Names of the registered sources and of those declared as entry points."""
    from cliport_perception.sources import realsense  # noqa: F401 - registers itself

    names = set(_REGISTRY)
    names.update(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def make_source(name: str, config: Any) -> RGBDSource:
    """Build the source registered as ``name`` from its config.

    ``config`` is the source's config dataclass, or a mapping that is loaded strictly
    into it (unknown keys and wrong types are errors naming the key).
    """
    from cliport_perception.sources import realsense  # noqa: F401 - registers itself

    cls = _REGISTRY.get(name) or _from_entry_point(name)
    if cls is None:
        raise SourceError(f"unknown RGB-D source {name!r}; available: {available_sources()} "
                          f"(a source in another package registers when imported or through "
                          f"the {ENTRY_POINT_GROUP!r} entry point group)")
    wanted = cls.config_class
    if isinstance(config, Mapping):
        if wanted is None:
            raise ConfigError(f"source {name!r} takes no mapping config")
        config = from_dict(wanted, dict(config), where=f"source {name}")
    elif wanted is not None and not (dataclasses.is_dataclass(config)
                                     and isinstance(config, wanted)):
        raise ConfigError(f"source {name!r} needs a {wanted.__name__} or a mapping, "
                          f"got {type(config).__name__}")
    return cls(config)
