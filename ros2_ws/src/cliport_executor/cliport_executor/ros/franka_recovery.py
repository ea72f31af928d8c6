"""franka_ros2 error recovery over rclpy: the ErrorRecovery action + controller_manager.

NOT HARDWARE-VERIFIED (franka_msgs and controller_manager_msgs are not installable here).
Implements :class:`~cliport_executor.franka.recovery.RecoveryCalls` (the order of the steps is
in :func:`~cliport_executor.franka.recovery.recover`, tested with a fake):

1. ``franka_msgs/action/ErrorRecovery`` (empty goal and result) at
   ``/action_server/error_recovery``;
2. ``controller_manager_msgs/srv/SetHardwareComponentState`` (name, target_state = active);
3. ``controller_manager_msgs/srv/SwitchController`` (activate the arm controller, strict).
"""

from __future__ import annotations

from cliport_executor.arm_interface import MotionError
from cliport_executor.config import RecoveryConfig
from cliport_executor.franka.recovery import RecoveryCalls
from cliport_executor.request import ErrorCode
from cliport_executor.ros.action_call import ActionCall, call_service, interface_module


class FrankaRecovery(RecoveryCalls):
    def __init__(self, node, cfg: RecoveryConfig, callback_group=None) -> None:
        action = interface_module("franka_msgs.action", "build franka_ros2")
        srv = interface_module("controller_manager_msgs.srv", "install ros2_control")
        self.cfg = cfg
        self._recovery_type = action.ErrorRecovery
        self._set_state_type = srv.SetHardwareComponentState
        self._switch_type = srv.SwitchController
        self._recovery = ActionCall(node, action.ErrorRecovery, cfg.error_recovery_action,
                                    callback_group)
        cm = cfg.controller_manager.rstrip("/")
        self._names = (f"{cm}/set_hardware_component_state", f"{cm}/switch_controller")
        self._set_state = node.create_client(self._set_state_type, self._names[0],
                                             callback_group=callback_group)
        self._switch = node.create_client(self._switch_type, self._names[1],
                                          callback_group=callback_group)

    def error_recovery(self, timeout: float) -> None:
        self._recovery(self._recovery_type.Goal(), timeout)

    def activate_hardware(self, component: str, timeout: float) -> None:
        from lifecycle_msgs.msg import State

        req = self._set_state_type.Request()
        req.name = component
        req.target_state.id = State.PRIMARY_STATE_ACTIVE
        req.target_state.label = "active"
        res = call_service(self._set_state, req, timeout, self._names[0])
        if not res.ok:
            raise MotionError(ErrorCode.HARDWARE, f"{component} did not become active")

    def activate_controllers(self, controllers: tuple[str, ...], timeout: float) -> None:
        req = self._switch_type.Request()
        req.activate_controllers = list(controllers)
        req.strictness = self._switch_type.Request.STRICT
        res = call_service(self._switch, req, timeout, self._names[1])
        if not res.ok:
            raise MotionError(ErrorCode.HARDWARE, f"controllers {list(controllers)} were not "
                                                  f"activated")
