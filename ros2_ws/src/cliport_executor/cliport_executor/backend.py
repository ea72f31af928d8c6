"""The arm-backend interface behind the one ``PickPlace`` action.

Following the lerobot pattern, hardware sits behind an abstract base class: the action
server knows only ``connect()``, ``execute()`` and ``disconnect()``. Backends are plain
Python (no rclpy), so the PyBullet simulator and the MoveIt/Franka backend share the
server, its validation and its tests.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable

from cliport_executor.request import Outcome, Phase, PickPlaceRequest

FeedbackFn = Callable[[Phase, float], None]


class CancelToken:
    """Set by the server when the client cancels; backends poll it between motions."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True if canceled meanwhile."""
        return self._event.wait(timeout)


class ArmBackend(abc.ABC):
    """One arm (real or simulated) that can run pick-and-place and push primitives."""

    name: str = "abstract"

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection to the arm; raise on failure."""

    @abc.abstractmethod
    def execute(self, request: PickPlaceRequest, feedback: FeedbackFn,
                cancel: CancelToken) -> Outcome:
        """Run one primitive; report phases through ``feedback``; stop early on cancel."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Release the arm; safe to call twice."""


_REGISTRY: dict[str, Callable[..., ArmBackend]] = {}


def register_backend(name: str):
    """Class decorator: make a backend constructible by name from the configuration."""
    def deco(cls):
        _REGISTRY[name] = cls
        cls.name = name
        return cls
    return deco


def make_backend(name: str, config) -> ArmBackend:
    # Import the built-in backends so they register themselves.
    from cliport_executor import backends  # noqa: F401

    if name not in _REGISTRY:
        raise ValueError(f"unknown executor backend {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name](config)
