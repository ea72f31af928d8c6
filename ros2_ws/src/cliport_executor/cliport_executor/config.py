"""Executor configuration (``config/executor.yaml``), mirrored by the node's parameters.

Every number a backend or the server uses lives here, loaded strictly from YAML into frozen
dataclasses (an unknown key or a wrong type is an error naming the key). ``__post_init__``
checks the values whose wrong setting would be unsafe on a real arm (scalings above 1,
non-positive timeouts, a transfer height under the workspace).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from cliport_common.config import ConfigError, config_path, load_config
from cliport_perception.workspace import Workspace

BUSY_POLICIES = ("reject", "preempt")


def _positive(obj, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{type(obj).__name__}.{name} must be > 0, got {value!r}")


def _non_negative(obj, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{type(obj).__name__}.{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class DryRunConfig:
    """The dry-run backend walks through the phases without moving anything."""

    phase_duration: float = 0.05  # seconds spent in each phase


@dataclass(frozen=True)
class Timeouts:
    """Wall-clock limits in seconds: one per feedback phase, the whole goal, recovery.

    A phase that overruns stops the arm and ends the goal with ``ERROR_TIMEOUT``. ``goal``
    bounds the sum; ``preempt_wait`` is how long a preempting goal waits for the previous one
    to stop; ``recovery`` bounds each step of the Franka error-recovery sequence.
    """

    approach: float = 30.0
    descend: float = 15.0
    grasp: float = 10.0
    lift: float = 15.0
    transfer: float = 30.0
    place: float = 15.0
    retreat: float = 30.0
    goal: float = 180.0
    preempt_wait: float = 10.0
    recovery: float = 30.0

    def __post_init__(self) -> None:
        _positive(self, *(f.name for f in fields(self)))

    def for_phase(self, phase_name: str) -> float:
        return float(getattr(self, phase_name))


@dataclass(frozen=True)
class SimPickPlace:
    """``cliport_sim.primitives.pick_place`` parameters; a task's own win.

    See docs/design.md#pick-place-primitive.
    """

    height: float = 0.32
    speed: float = 0.01
    clearance: float = 0.32
    descend_step: float = 0.02
    max_below: float = 0.03
    slow_zone: float = 0.03
    contact_speed: float = 0.0025


@dataclass(frozen=True)
class SimPush:
    """``cliport_sim.primitives.push`` parameters; a task's own win.

    See docs/design.md#push-primitive.
    """

    speed: float = 0.003
    height: float = 0.31
    z: float = 0.005
    push_step: float = 0.01


@dataclass(frozen=True)
class SimBackendConfig:
    """The PyBullet UR5 backend: which task scene it owns and how fast it runs.

    ``real_time_factor`` paces the simulation against the wall clock (1 = real time, as a
    real arm would move; 0 = as fast as the CPU allows, for tests and evaluation).
    """

    task: str = "put-block-in-bowl-seen-colors"
    mode: str = "test"
    seed: int = 10001
    hz: int = 480
    real_time_factor: float = 0.0
    observe: bool = False  # render + fuse an observation after every step (the sim node's job)
    egl: bool = False  # one EGL client per process: leave it to whoever renders
    pick_place: SimPickPlace = field(default_factory=SimPickPlace)
    push: SimPush = field(default_factory=SimPush)

    def __post_init__(self) -> None:
        _non_negative(self, "real_time_factor")
        if self.hz <= 0:
            raise ConfigError(f"sim.hz must be > 0, got {self.hz}")


@dataclass(frozen=True)
class MotionConfig:
    """Heights, speeds and tool settings of the Cartesian (MoveIt) pick-and-place and push.

    Heights are z in the goal's base frame (the table top is z = 0). ``transfer_height`` is
    where the arm travels between pick and place (at least ``min_clearance`` above either
    pose). Scalings are fractions of the joint limits; a goal's ``speed_scaling`` can only
    lower them.
    """

    transfer_height: float = 0.25
    min_clearance: float = 0.05
    grasp_depth: float = 0.015  # fingers close this far below the pick z (the object's top)
    release_height: float = 0.005  # the held object is let go this far above the place z
    min_tcp_z: float = 0.013  # no motion target below this: the fingertips (9.5 mm under the
    # Franka Hand's TCP) never hit the table
    max_below: float = 0.03  # suction: contact-sensing descents end this far under the pose
    velocity_scaling: float = 0.3  # OMPL transfers
    acceleration_scaling: float = 0.3
    linear_velocity_scaling: float = 0.1  # Pilz LIN approach / retreat near the table
    linear_acceleration_scaling: float = 0.1
    push_z: float = 0.013  # TCP z of a push stroke (closed fingertips 3.5 mm above the table)
    push_lead_in: float = 0.02  # the stroke starts this far before the push start
    push_stop_short: float = 0.05  # and stops this far before the push end

    def __post_init__(self) -> None:
        _positive(self, "transfer_height", "min_clearance")
        _non_negative(self, "grasp_depth", "release_height", "min_tcp_z", "max_below",
                      "push_z", "push_lead_in", "push_stop_short")
        for name in ("velocity_scaling", "acceleration_scaling", "linear_velocity_scaling",
                     "linear_acceleration_scaling"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value <= 1.0):
                raise ConfigError(f"motion.{name} must be in (0, 1], got {value!r}")


@dataclass(frozen=True)
class TableConfig:
    """The table as a MoveIt collision box, in the planning frame (top just under z = 0)."""

    size: tuple[float, float, float] = (1.2, 1.6, 0.1)
    center: tuple[float, float, float] = (0.45, 0.0, -0.055)
    allowed_links: tuple[str, ...] = ("fr3_link0",)  # the base sits on the table


@dataclass(frozen=True)
class MoveItConfig:
    """moveit_py settings. Defaults are the FR3's (franka_fr3_moveit_config); a Panda uses
    ``panda_arm`` / ``panda_hand_tcp`` / ``panda_link0`` (config/ros/moveit_panda.params.yaml).

    ``goal_to_planning`` is (x, y, z, yaw) of the goal frame (``base_frame``) in the planning
    frame: zero for an FR3, whose ``base`` link coincides with ``fr3_link0``.
    """

    node_name: str = "cliport_moveit_py"
    params_file: str = ""  # MoveIt parameters file; empty = the ones this process was started with
    planning_group: str = "fr3_arm"
    tcp_link: str = "fr3_hand_tcp"
    planning_frame: str = "fr3_link0"
    goal_to_planning: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    ompl_namespace: str = "ompl_rrtc"
    ompl_pipeline: str = "ompl"
    ompl_planner_id: str = "RRTConnectkConfigDefault"
    pilz_namespace: str = "pilz_lin"
    pilz_pipeline: str = "pilz_industrial_motion_planner"
    planning_time: float = 2.0
    planning_attempts: int = 3
    tcp_yaw_offset: float = 0.0  # added to every goal yaw (finger direction vs. the policy's)
    neutral_yaw: float = 0.0  # parallel-gripper yaws are folded by pi towards this one
    table: TableConfig = field(default_factory=TableConfig)

    def __post_init__(self) -> None:
        _positive(self, "planning_time")
        if self.planning_attempts < 1:
            raise ConfigError(f"moveit.planning_attempts must be >= 1, got "
                              f"{self.planning_attempts}")


@dataclass(frozen=True)
class GripperConfig:
    """Franka Hand through ``franka_msgs`` Grasp / Move / Homing (franka_gripper node).

    Grasp succeeds when the fingers stop between ``width - epsilon_inner`` and
    ``width + epsilon_outer``; wide epsilons accept objects of unknown width.
    """

    namespace: str = "/franka_gripper"
    open_width: float = 0.08
    grasp_width: float = 0.04
    epsilon_inner: float = 0.035
    epsilon_outer: float = 0.035
    speed: float = 0.05
    force: float = 20.0
    home_on_connect: bool = True

    def __post_init__(self) -> None:
        _positive(self, "open_width", "speed", "force")
        _non_negative(self, "grasp_width", "epsilon_inner", "epsilon_outer")


@dataclass(frozen=True)
class RecoveryConfig:
    """franka_ros2's error recovery: action, hardware, then controllers.

    See docs/design.md#franka-error-recovery.
    """

    enabled: bool = True
    error_recovery_action: str = "/action_server/error_recovery"
    controller_manager: str = "/controller_manager"
    hardware_component: str = "FrankaHardwareInterface"
    controllers: tuple[str, ...] = ("fr3_arm_controller",)


@dataclass(frozen=True)
class LibfrankaConfig:
    """A Franka Panda (FER) driven directly through panda-py (libfranka 0.9.2), no ROS driver.

    The FER stops at robot system 4.2.x and libfranka 0.9, which franka_ros2 Jazzy cannot
    use (docs/design.md#franka-versions). Gripper, yaw folding and motion heights come from
    ``gripper``, ``moveit.tcp_yaw_offset`` / ``moveit.neutral_yaw`` and ``motion``.
    ``goal_to_robot`` is (x, y, z, yaw) of ``base_frame`` in the robot's base (panda_link0).
    """

    hostname: str = "172.16.0.2"
    goal_to_robot: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    # panda-py speed factors (fraction of its limits) at scaling 1: transfers / linear moves.
    max_speed_factor: float = 0.2
    realtime: bool = True  # False: libfranka RealtimeConfig.kIgnore (no RT kernel; test only)

    def __post_init__(self) -> None:
        if not 0.0 < self.max_speed_factor <= 0.5:
            raise ConfigError(f"libfranka.max_speed_factor must be in (0, 0.5], got "
                              f"{self.max_speed_factor}")


@dataclass(frozen=True)
class ExecutorConfig:
    base_frame: str = "base"
    backend: str = "dryrun"
    workspace: Workspace = field(default_factory=Workspace)
    workspace_margin: float = 0.0  # metres of tolerance around the workspace box
    reject_out_of_workspace: bool = False  # False: accept, then abort with the reason
    max_instruction_length: int = 512
    max_tilt: float = 0.01  # radians of roll/pitch tolerated in an SE(2) goal orientation
    feedback_period: float = 0.0  # 0 = feedback at phase changes only
    busy_policy: str = "reject"  # a goal arriving while one runs: reject | preempt
    executor_threads: int = 4
    timeouts: Timeouts = field(default_factory=Timeouts)
    dryrun: DryRunConfig = field(default_factory=DryRunConfig)
    sim: SimBackendConfig = field(default_factory=SimBackendConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    moveit: MoveItConfig = field(default_factory=MoveItConfig)
    gripper: GripperConfig = field(default_factory=GripperConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    libfranka: LibfrankaConfig = field(default_factory=LibfrankaConfig)

    def __post_init__(self) -> None:
        if self.busy_policy not in BUSY_POLICIES:
            raise ConfigError(f"busy_policy must be one of {BUSY_POLICIES}, got "
                              f"{self.busy_policy!r}")
        if self.executor_threads < 2:
            raise ConfigError("executor_threads must be >= 2 (execute + cancel/feedback)")
        _non_negative(self, "workspace_margin", "max_tilt", "feedback_period")
        if self.motion.transfer_height <= self.workspace.z_min:
            raise ConfigError("motion.transfer_height must lie above the workspace floor")


def default_config_file():
    return config_path("cliport_executor", "executor.yaml")


def load_executor_config(path=None) -> ExecutorConfig:
    return load_config(ExecutorConfig, path or default_config_file(), section="executor")
