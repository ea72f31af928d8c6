"""franka_ros2's error-recovery sequence, as a pure function over three calls.

Since franka_ros2 v3.3 a reflex (e.g. a collision threshold) no longer kills
``ros2_control_node``: the hardware component goes *unconfigured* and its controllers are
deactivated. Recovery is, in this order (docs/design.md#franka-error-recovery): (1) the
``franka_msgs/action/ErrorRecovery`` action (libfranka ``automaticErrorRecovery()``), (2) set
the hardware component ``active``, (3) activate the arm controller(s). None of the steps moves
the arm. :class:`RecoveryCalls` is implemented over rclpy in
:mod:`cliport_executor.ros.franka_recovery`; the tests use a recording fake.
"""

from __future__ import annotations

import abc

from cliport_executor.config import RecoveryConfig


class RecoveryError(RuntimeError):
    """A recovery step failed; the message names the step."""


class RecoveryCalls(abc.ABC):
    @abc.abstractmethod
    def error_recovery(self, timeout: float) -> None:
        """Send ``ErrorRecovery`` and wait for its result; raise on failure or timeout."""

    @abc.abstractmethod
    def activate_hardware(self, component: str, timeout: float) -> None:
        """controller_manager ``set_hardware_component_state(component, active)``."""

    @abc.abstractmethod
    def activate_controllers(self, controllers: tuple[str, ...], timeout: float) -> None:
        """controller_manager ``switch_controller(activate=controllers, strict)``."""


def recover(calls: RecoveryCalls, cfg: RecoveryConfig, timeout: float) -> list[str]:
    """Run the three steps in order; stop at the first failure. Returns the steps done."""
    steps = (
        ("error recovery", lambda: calls.error_recovery(timeout)),
        (f"activate {cfg.hardware_component}",
         lambda: calls.activate_hardware(cfg.hardware_component, timeout)),
        (f"activate {', '.join(cfg.controllers)}",
         lambda: calls.activate_controllers(tuple(cfg.controllers), timeout)),
    )
    done: list[str] = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - report which step failed, whatever it was
            raise RecoveryError(f"recovery step {len(done) + 1} ({name}) failed: {exc}; "
                                f"done before it: {done or 'nothing'}") from exc
        done.append(name)
    return done
