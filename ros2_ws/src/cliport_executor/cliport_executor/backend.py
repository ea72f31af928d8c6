"""The arm-backend interface behind the one ``PickPlace`` action.

Following the lerobot pattern, hardware sits behind an abstract base class: the action
server knows only ``connect()``, ``execute()``, ``safe_stop()`` and ``disconnect()``.
Backends are plain Python (no rclpy), so the simulators and the MoveIt/Franka backend
share the server, its validation and its tests. Built-in backends are imported only when
asked for by name, so nothing here needs MoveIt unless it is chosen. A backend in another
package (the simulators in ``cliport_sim``) registers when its module is imported, or
declares an entry point in the group ``cliport_executor.backends``
(``name = package.module:Class``) that :func:`make_backend` loads on demand: the executor
never imports the packages that provide backends.
"""

from __future__ import annotations

import abc
import importlib
import importlib.metadata
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


ENTRY_POINT_GROUP = "cliport_executor.backends"
_REGISTRY: dict[str, Callable[..., ArmBackend]] = {}
# Built-in backends by name -> the module that registers them (imported on demand).
BUILTIN_BACKENDS = {
    "dryrun": "cliport_executor.backends.dryrun",
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


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _load_entry_point(ep: importlib.metadata.EntryPoint) -> None:
    """Import the backend an installed package declares, and register it by its name."""
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - any import failure reads the same
        raise BackendUnavailable(f"executor backend {ep.name!r}: cannot load entry point "
                                 f"{ep.value}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, ArmBackend)):
        raise BackendUnavailable(f"executor backend {ep.name!r}: entry point {ep.value} is "
                                 f"not an ArmBackend subclass")
    if _REGISTRY.get(ep.name) is not cls:
        register_backend(ep.name)(cls)


def available_backends() -> list[str]:
    """The built-in backends, those registered so far and those installed packages declare."""
    return sorted(set(_REGISTRY) | set(BUILTIN_BACKENDS) | set(_entry_points()))


def make_backend(name: str, config, **resources) -> ArmBackend:
    """Construct backend ``name``; ``resources`` (e.g. ``ros_node``) go to its constructor."""
    if name not in _REGISTRY and name in BUILTIN_BACKENDS:
        importlib.import_module(BUILTIN_BACKENDS[name])
    if name not in _REGISTRY and (ep := _entry_points().get(name)) is not None:
        _load_entry_point(ep)
    if name not in _REGISTRY:
        raise ValueError(f"unknown executor backend {name!r}; available: {available_backends()} "
                         f"(a backend in another package is found through the "
                         f"{ENTRY_POINT_GROUP!r} entry point group once that package is "
                         f"installed)")
    return _REGISTRY[name](config, **resources)
