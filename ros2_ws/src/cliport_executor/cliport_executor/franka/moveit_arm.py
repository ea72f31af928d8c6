"""The Franka arm through moveit_py (MoveIt 2 >= 2.9, Jazzy): Pilz LIN and OMPL motions.

NOT HARDWARE-VERIFIED: moveit_py, moveit_msgs and franka_ros2 cannot be installed on the
machines this project is tested on. The code follows the moveit_py bindings (``MoveItPy``,
``PlanningComponent.set_goal_state(pose_stamped_msg=..., pose_link=...)``,
``PlanRequestParameters(moveit, namespace)``, ``MoveItPy.execute(trajectory, controllers=[])``,
the trajectory execution manager's ``stop_execution``) and the planning-scene API
(``read_write()`` + ``apply_collision_object``). Its pose math lives in
:mod:`cliport_executor.franka.poses` and is tested; everything here is imported lazily.

One MoveItPy per process, created once (its destructor shuts rclcpp down): the server
creates this object once in ``connect()`` and keeps it as an attribute.
"""

from __future__ import annotations

import threading

from cliport_common.poses import SE2Pose
from cliport_executor.arm_interface import Motion, MotionError, Scaling
from cliport_executor.backend import BackendUnavailable
from cliport_executor.config import MoveItConfig
from cliport_executor.franka.poses import pose_stamped
from cliport_executor.request import ErrorCode

TABLE_ID = "cliport_table"
STOPPED_STATUSES = ("PREEMPTED",)  # what an execution cut short by stop_execution reports


class MoveItArm(Motion):
    """:class:`Motion` over moveit_py: ``move_linear`` = Pilz LIN, ``move_free`` = OMPL."""

    supports_contact = False  # a Franka Hand needs none; contact descents are for suction

    def __init__(self, cfg: MoveItConfig) -> None:
        self.cfg = cfg
        self._moveit = None
        self._arm = None
        self._params_cls = None
        self._halted = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        try:
            from moveit.planning import MoveItPy, PlanRequestParameters
        except ImportError as exc:
            raise BackendUnavailable(
                "moveit_py is not installed (needs MoveIt 2 >= 2.9 on a ROS 2 install with "
                f"franka_ros2): {exc}") from exc
        kwargs = {"node_name": self.cfg.node_name}
        if self.cfg.params_file:
            kwargs["launch_params_filepaths"] = [self.cfg.params_file]
        self._moveit = MoveItPy(**kwargs)
        self._arm = self._moveit.get_planning_component(self.cfg.planning_group)
        self._params_cls = PlanRequestParameters
        self.add_table()

    def add_table(self) -> None:
        """The table as a collision box, touching allowed for the links that stand on it."""
        from geometry_msgs.msg import Pose
        from moveit_msgs.msg import CollisionObject
        from shape_msgs.msg import SolidPrimitive

        table = self.cfg.table
        box = SolidPrimitive()
        box.type = SolidPrimitive.BOX
        box.dimensions = [float(v) for v in table.size]
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in table.center)
        pose.orientation.w = 1.0
        obj = CollisionObject()
        obj.header.frame_id = self.cfg.planning_frame
        obj.id = TABLE_ID
        obj.primitives = [box]
        obj.primitive_poses = [pose]
        obj.operation = CollisionObject.ADD
        with self._moveit.get_planning_scene_monitor().read_write() as scene:
            scene.apply_collision_object(obj)
            for link in table.allowed_links:
                scene.allowed_collision_matrix.set_entry(TABLE_ID, link, True)
            scene.current_state.update()

    # ------------------------------------------------------------------ motions
    def move_free(self, target: SE2Pose, scaling: Scaling) -> None:
        cfg = self.cfg
        self._plan_and_execute(target, self._request(cfg.ompl_namespace, cfg.ompl_pipeline,
                                                     cfg.ompl_planner_id, scaling), "OMPL")

    def move_linear(self, target: SE2Pose, scaling: Scaling, stop_on_contact: bool = False
                    ) -> bool:
        if stop_on_contact:
            raise MotionError(ErrorCode.PLANNING_FAILED,
                              "contact-sensing motions are not available on this arm")
        cfg = self.cfg
        self._plan_and_execute(target, self._request(cfg.pilz_namespace, cfg.pilz_pipeline,
                                                     "LIN", scaling), "Pilz LIN")
        return False

    def stop(self) -> None:
        self._halted.set()
        manager = self._execution_manager()
        if manager is not None:
            manager.stop_execution(True)

    def resume(self) -> None:
        self._halted.clear()

    # ------------------------------------------------------------------ internals
    def _request(self, namespace: str, pipeline: str, planner_id: str, scaling: Scaling):
        params = self._params_cls(self._moveit, namespace)
        params.planning_pipeline = pipeline
        params.planner_id = planner_id
        params.planning_time = self.cfg.planning_time
        params.planning_attempts = self.cfg.planning_attempts
        params.max_velocity_scaling_factor = scaling.velocity
        params.max_acceleration_scaling_factor = scaling.acceleration
        return params

    def _plan_and_execute(self, target: SE2Pose, params, planner: str) -> None:
        if self._halted.is_set():
            return
        arm = self._arm
        arm.set_start_state_to_current_state()
        arm.set_goal_state(pose_stamped_msg=pose_stamped(target, self.cfg),
                           pose_link=self.cfg.tcp_link)
        plan = arm.plan(single_plan_parameters=params)
        if not plan:
            raise MotionError(ErrorCode.PLANNING_FAILED,
                              f"{planner} found no plan to ({target.x:.3f}, {target.y:.3f}, "
                              f"{target.z:.3f}, yaw {target.yaw:.2f}): error code "
                              f"{getattr(plan.error_code, 'val', plan.error_code)}")
        if self._halted.is_set():  # stopped while planning: do not start moving
            return
        status = self._moveit.execute(plan.trajectory, controllers=[])
        if not status and not (self._halted.is_set() and status.status in STOPPED_STATUSES):
            # Aborted / failed without our stop: a controller or hardware fault (a reflex
            # deactivates the arm controller), handled by the backend's error recovery.
            raise MotionError(ErrorCode.HARDWARE, f"{planner} trajectory execution ended "
                                                  f"{status.status}")

    def _execution_manager(self):
        if self._moveit is None:
            return None
        # Jazzy's binding is spelled get_trajactory_execution_manager; later ones fixed it.
        for name in ("get_trajectory_execution_manager", "get_trajactory_execution_manager"):
            getter = getattr(self._moveit, name, None)
            if getter is not None:
                return getter()
        return None
