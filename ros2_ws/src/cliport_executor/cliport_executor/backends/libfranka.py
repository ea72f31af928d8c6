"""A Franka Panda (FER) through panda-py (libfranka 0.9.2): the ``libfranka`` backend.

NOT HARDWARE-VERIFIED. Same pick-and-place and push sequences, gripper settings, yaw folding
and error recovery as the ``moveit`` backend (it *is* that backend with other parts): the arm
is :class:`~cliport_executor.franka.panda_py_arm.PandaPyArm` (Cartesian motions, no planner),
the gripper libfranka's ``Gripper``, recovery libfranka's ``automaticErrorRecovery``. For the
robots franka_ros2 Jazzy cannot drive (docs/design.md#franka-versions); an FR3 uses ``moveit``.
"""

from __future__ import annotations

from cliport_executor.backend import BackendUnavailable, register_backend
from cliport_executor.backends.moveit import MoveItFrankaBackend
from cliport_executor.config import ExecutorConfig
from cliport_executor.franka.panda_py_arm import PandaPyArm, PandaPyGripper
from cliport_executor.request import Outcome

INSTALL_HINT = ("pip install panda-python (its PyPI wheels ship libfranka 0.9.2, the last "
                "version for the FER; an FR3 needs the moveit backend)")


@register_backend("libfranka")
class LibfrankaBackend(MoveItFrankaBackend):
    def __init__(self, config: ExecutorConfig, *, panda=None, gripper=None, **resources) -> None:
        super().__init__(config, **resources)
        self._panda = panda
        self._gripper = gripper

    def connect(self) -> None:
        cfg = self.config
        if self._panda is None or self._gripper is None:
            try:
                import panda_py
                from panda_py import libfranka
            except ImportError as exc:
                raise BackendUnavailable(f"the libfranka backend needs panda-py: "
                                         f"{INSTALL_HINT}") from exc
            lf = cfg.libfranka
            if self._panda is None:
                rt = (libfranka.RealtimeConfig.kEnforce if lf.realtime
                      else libfranka.RealtimeConfig.kIgnore)
                self._panda = panda_py.Panda(lf.hostname, realtime_config=rt)
            if self._gripper is None:
                self._gripper = libfranka.Gripper(lf.hostname)
        self.motion = PandaPyArm(self._panda, cfg.libfranka)
        self.tool = PandaPyGripper(self._gripper, cfg.gripper)
        if cfg.gripper.home_on_connect:
            self.tool.home()
        self.connected = True

    def _recover(self, outcome: Outcome) -> Outcome:
        """libfranka's automaticErrorRecovery (there is no ros2_control to re-activate)."""
        if not self.config.recovery.enabled:
            return Outcome.fail(outcome.error_code, f"{outcome.message} (error recovery is "
                                                    f"disabled)")
        try:
            self._panda.recover()
        except Exception as exc:  # noqa: BLE001 - report it; the goal has failed anyway
            return Outcome.fail(outcome.error_code, f"{outcome.message}; libfranka error "
                                                    f"recovery failed: {exc}")
        return Outcome.fail(outcome.error_code, f"{outcome.message}; recovered: libfranka "
                                                f"automatic error recovery")
