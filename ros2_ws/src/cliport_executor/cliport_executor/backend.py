"""The arm-backend interface behind the one ``PickPlace`` action.

Following the lerobot pattern, hardware sits behind an abstract base class: the action
server knows only ``connect()``, ``execute()``, ``safe_stop()`` and ``disconnect()``.
Backends are plain Python (no rclpy), so the PyBullet simulator and the MoveIt/Franka
backend share the server, its validation and its tests. Built-in backends are imported only
when asked for by name, so the dry run never loads PyBullet and nothing here needs MoveIt.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable

from cliport_executor.request import Outcome, PickPlaceRequest
from cliport_executor.supervision import Supervisor


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (a missing driver or library); the message says why."""


class ArmBackend(abc.ABC):
    """One arm (real or simulated) that can run pick-and-place and push primitives."""

    name: str = "abstract"

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection to the arm; raise on failure."""

    @abc.abstractmethod
    def execute(self, request: PickPlaceRequest, supervisor: Supervisor) -> Outcome:
        """Run one primitive; report phases to ``supervisor`` and stop when it says so.

        Returns the outcome; stopping (cancel, preemption, timeout) returns
        ``supervisor.stop_outcome()`` with the arm already stopped.
        """

    def safe_stop(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Bring the arm to rest where it is. Called by the server after any failure, even
        an exception from :meth:`execute`; must not raise and must not drop a held object."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Release the arm; safe to call twice."""


_REGISTRY: dict[str, Callable[..., ArmBackend]] = {}
# Built-in backends by name -> the module that registers them (imported on demand).
BUILTIN_BACKENDS = {
    "dryrun": "cliport_executor.backends.dryrun",
    "sim": "cliport_executor.backends.sim",
    "moveit": "cliport_executor.backends.moveit",
    "libfranka": "cliport_executor.backends.libfranka",
}


def register_backend(name: str):
    """Class decorator: make a backend constructible by name from the configuration."""
    def deco(cls):
        _REGISTRY[name] = cls
        cls.name = name
        return cls
    return deco


def available_backends() -> list[str]:
    return sorted(set(_REGISTRY) | set(BUILTIN_BACKENDS))


def make_backend(name: str, config, **resources) -> ArmBackend:
    """Construct backend ``name``; ``resources`` (e.g. ``ros_node``) go to its constructor."""
    if name not in _REGISTRY and name in BUILTIN_BACKENDS:
        importlib.import_module(BUILTIN_BACKENDS[name])
    if name not in _REGISTRY:
        raise ValueError(f"unknown executor backend {name!r}; available: {available_backends()}")
    return _REGISTRY[name](config, **resources)
