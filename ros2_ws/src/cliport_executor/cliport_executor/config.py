"""Executor configuration (``config/executor.yaml``), mirrored by the node's parameters.

Every number a backend or the server uses lives here, loaded strictly from YAML into frozen
dataclasses (an unknown key or a wrong type is an error naming the key). ``__post_init__``
checks the values whose wrong setting would be unsafe on a real arm (scalings above 1,
non-positive timeouts, a transfer height under the workspace).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from cliport_common.config import Check, ConfigError, config_path, load_config
from cliport_common.frames import BASE_FRAME, FR3_BASE_FRAME
from cliport_perception.workspace import Workspace

BUSY_POLICIES = ("reject", "preempt")


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

    approach: float = 30.0  # to the pre-grasp pose over the pick
    descend: float = 15.0  # down to the pick
    grasp: float = 10.0  # closing the gripper / suction on
    lift: float = 15.0  # back up with the object
    transfer: float = 30.0  # over to the place
    place: float = 15.0  # down to the place and letting go
    retreat: float = 30.0  # clear of the placed object
    goal: float = 180.0  # the whole goal, every phase together
    preempt_wait: float = 10.0  # a preempted goal's stop, before the next one starts
    recovery: float = 30.0  # each step of the Franka error recovery

    def __post_init__(self) -> None:
        Check(self, "timeouts").positive(*(f.name for f in fields(self)))

    def for_phase(self, phase_name: str) -> float:
        return float(getattr(self, phase_name))


@dataclass(frozen=True)
class SimPickPlace:
    """``cliport_sim.primitives.pick_place`` parameters; a task's own win.

    See docs/design.md#pick-place-primitive.
    """

    height: float = 0.32  # m over the pick / place for the lift and the transfer
    speed: float = 0.01  # rad per step of lift, transfer and place
    clearance: float = 0.32  # m over the pick for the approach, over the place for the retreat
    descend_step: float = 0.02  # m per move of a contact-sensing descent
    max_below: float = 0.03  # m under the pose a descent may go looking for contact
    slow_zone: float = 0.03  # m over the expected contact where a descent slows down
    contact_speed: float = 0.0025  # rad per step inside the slow zone


@dataclass(frozen=True)
class SimPush:
    """``cliport_sim.primitives.push`` parameters; a task's own win.

    See docs/design.md#push-primitive.
    """

    speed: float = 0.003  # rad per step of the stroke
    height: float = 0.31  # m: the spatula travels this high to and from the stroke
    z: float = 0.005  # m: the blade's height during the stroke
    push_step: float = 0.01  # m of stroke per move


@dataclass(frozen=True)
class SimBackendConfig:
    """The PyBullet UR5 backend: which task scene it owns and how fast it runs.

    ``real_time_factor`` paces the simulation against the wall clock (1 = real time, as a
    real arm would move; 0 = as fast as the CPU allows, for tests and evaluation).
    """

    task: str = "put-block-in-bowl-seen-colors"  # the cliport_sim task whose scene it owns
    mode: str = "test"  # the task's split: train | val | test
    seed: int = 10001  # the first episode's seed
    hz: int = 480  # physics steps per simulated second
    real_time_factor: float = 0.0  # simulated seconds per wall-clock second; 0 = unpaced
    observe: bool = False  # render + fuse an observation after every step (the sim node's job)
    egl: bool = False  # one EGL client per process: leave it to whoever renders
    pick_place: SimPickPlace = field(default_factory=SimPickPlace)
    push: SimPush = field(default_factory=SimPush)

    def __post_init__(self) -> None:
        check = Check(self, "sim")
        check.non_negative("real_time_factor")
        check.positive("hz")


@dataclass(frozen=True)
class MotionConfig:
    """Heights, speeds and tool settings of the Cartesian (MoveIt) pick-and-place and push.

    Heights are z in the goal's base frame (the table top is z = 0). ``transfer_height`` is
    where the arm travels between pick and place (at least ``min_clearance`` above either
    pose). Scalings are fractions of the joint limits; a goal's ``speed_scaling`` can only
    lower them.
    """

    transfer_height: float = 0.25  # z of the travel between pick and place
    min_clearance: float = 0.05  # the travel stays at least this far above either pose
    grasp_depth: float = 0.015  # fingers close this far below the pick z (the object's top)
    release_height: float = 0.005  # the held object is let go this far above the place z
    min_tcp_z: float = 0.013  # no motion target below this: the fingertips (9.5 mm under the
    # Franka Hand's TCP) never hit the table
    max_below: float = 0.03  # suction: contact-sensing descents end this far under the pose
    velocity_scaling: float = 0.3  # OMPL transfers
    acceleration_scaling: float = 0.3  # of the transfers
    linear_velocity_scaling: float = 0.1  # Pilz LIN approach / retreat near the table
    linear_acceleration_scaling: float = 0.1  # of the approach / retreat
    push_z: float = 0.013  # TCP z of a push stroke (closed fingertips 3.5 mm above the table)
    push_lead_in: float = 0.02  # the stroke starts this far before the push start
    push_stop_short: float = 0.05  # and stops this far before the push end

    def __post_init__(self) -> None:
        check = Check(self, "motion")
        check.positive("transfer_height", "min_clearance")
        check.non_negative("grasp_depth", "release_height", "min_tcp_z", "max_below", "push_z",
                           "push_lead_in", "push_stop_short")
        for name in ("velocity_scaling", "acceleration_scaling", "linear_velocity_scaling",
                     "linear_acceleration_scaling"):
            check.within(name, 0.0, 1.0, open_low=True)


@dataclass(frozen=True)
class TableConfig:
    """The table as a MoveIt collision box, in the planning frame (top just under z = 0)."""

    size: tuple[float, float, float] = (1.2, 1.6, 0.1)  # m along x, y, z
    center: tuple[float, float, float] = (0.45, 0.0, -0.055)  # m, the box's centre
    allowed_links: tuple[str, ...] = ("fr3_link0",)  # the base sits on the table


@dataclass(frozen=True)
class MoveItConfig:
    """moveit_py settings. Defaults are the FR3's (franka_fr3_moveit_config); a Panda uses
    ``panda_arm`` / ``panda_hand_tcp`` / ``panda_link0`` (config/ros/moveit_panda.params.yaml).

    ``goal_to_planning`` is (x, y, z, yaw) of the goal frame (``base_frame``) in the planning
    frame: zero for an FR3, whose ``base`` link coincides with ``fr3_link0``.
    """

    node_name: str = "cliport_moveit_py"  # the moveit_py node's name
    params_file: str = ""  # MoveIt parameters file; empty = the ones this process was started with
    planning_group: str = "fr3_arm"  # the arm's joint group
    tcp_link: str = "fr3_hand_tcp"  # the link whose pose a goal sets
    planning_frame: str = FR3_BASE_FRAME  # the frame MoveIt plans in
    goal_to_planning: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x y z yaw
    ompl_namespace: str = "ompl_rrtc"  # plan request parameters of the transfers
    ompl_pipeline: str = "ompl"  # their planning pipeline
    ompl_planner_id: str = "RRTConnectkConfigDefault"  # and planner
    pilz_namespace: str = "pilz_lin"  # plan request parameters of the straight-line moves
    pilz_pipeline: str = "pilz_industrial_motion_planner"  # their planning pipeline
    planning_time: float = 2.0  # s per planning attempt
    planning_attempts: int = 3  # attempts per motion
    tcp_yaw_offset: float = 0.0  # added to every goal yaw (finger direction vs. the policy's)
    neutral_yaw: float = 0.0  # parallel-gripper yaws are folded by pi towards this one
    table: TableConfig = field(default_factory=TableConfig)  # the collision box under the arm

    def __post_init__(self) -> None:
        check = Check(self, "moveit")
        check.positive("planning_time")
        check.at_least(1, "planning_attempts")


@dataclass(frozen=True)
class GripperConfig:
    """Franka Hand through ``franka_msgs`` Grasp / Move / Homing (franka_gripper node).

    Grasp succeeds when the fingers stop between ``width - epsilon_inner`` and
    ``width + epsilon_outer``; wide epsilons accept objects of unknown width. The fingers
    open only as far as the objects need: to ``pregrasp_width`` before the pick's descent,
    which keeps them off neighbouring objects and bowl rims, and to ``release_width`` to let
    go at the place, which keeps them off the rim of the bowl the object goes into.
    ``open_width`` (fully open) is for homing and the suction-free defaults.
    """

    namespace: str = "/franka_gripper"  # the franka_gripper node's actions
    open_width: float = 0.08  # m between the fingers when open
    pregrasp_width: float = 0.065  # m before the pick's descent: a 4 cm block turned 15 deg
    #   off the fingers is 49 mm wide; fully open (80 mm) a finger lands on a neighbour 6 cm away
    release_width: float = 0.065  # m to let go at the place: a 60 mm object + 2.5 mm a side
    grasp_width: float = 0.04  # m: the expected width of a grasped object
    epsilon_inner: float = 0.035  # m a grasp may end narrower than grasp_width
    epsilon_outer: float = 0.035  # m a grasp may end wider than grasp_width
    speed: float = 0.05  # m/s of the fingers
    force: float = 20.0  # N of a grasp
    home_on_connect: bool = True  # home the fingers when the backend connects

    def __post_init__(self) -> None:
        check = Check(self, "gripper")
        check.positive("open_width", "pregrasp_width", "release_width", "speed", "force")
        check.non_negative("grasp_width", "epsilon_inner", "epsilon_outer")
        for name in ("pregrasp_width", "release_width"):
            check.within(name, self.grasp_width, self.open_width, open_low=True,
                         unit="m", note="wider than grasp_width, no wider than open_width")


@dataclass(frozen=True)
class RecoveryConfig:
    """franka_ros2's error recovery: action, hardware, then controllers.

    See docs/design.md#franka-error-recovery.
    """

    enabled: bool = True  # False: no recovery is tried after an arm error
    error_recovery_action: str = "/action_server/error_recovery"  # ErrorRecovery (step 1)
    controller_manager: str = "/controller_manager"  # serves steps 2 and 3
    hardware_component: str = "FrankaHardwareInterface"  # set active again (step 2)
    controllers: tuple[str, ...] = ("fr3_arm_controller",)  # activated again (step 3)


@dataclass(frozen=True)
class LibfrankaConfig:
    """A Franka Panda (FER) driven directly through panda-py (libfranka 0.9.2), no ROS driver.

    The FER stops at robot system 4.2.x and libfranka 0.9, which franka_ros2 Jazzy cannot
    use (docs/design.md#franka-versions). Gripper, yaw folding and motion heights come from
    ``gripper``, ``moveit.tcp_yaw_offset`` / ``moveit.neutral_yaw`` and ``motion``.
    ``goal_to_robot`` is (x, y, z, yaw) of ``base_frame`` in the robot's base (panda_link0).
    """

    hostname: str = "172.16.0.2"  # the robot's FCI address
    goal_to_robot: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x y z yaw
    # panda-py speed factors (fraction of its limits) at scaling 1: transfers / linear moves.
    max_speed_factor: float = 0.2
    realtime: bool = True  # False: libfranka RealtimeConfig.kIgnore (no RT kernel; test only)

    def __post_init__(self) -> None:
        Check(self, "libfranka").within("max_speed_factor", 0.0, 0.5, open_low=True)


@dataclass(frozen=True)
class ExecutorConfig:
    base_frame: str = BASE_FRAME  # the only frame goals may use (empty frame_id = this one)
    backend: str = "dryrun"  # dryrun | sim | moveit | libfranka
    workspace: Workspace = field(default_factory=Workspace)  # where goals may lie
    workspace_margin: float = 0.0  # metres of tolerance around the workspace box
    reject_out_of_workspace: bool = False  # False: accept, then abort with the reason
    max_instruction_length: int = 512  # characters of a goal's instruction
    max_tilt: float = 0.01  # radians of roll/pitch tolerated in an SE(2) goal orientation
    feedback_period: float = 0.0  # 0 = feedback at phase changes only
    busy_policy: str = "reject"  # a goal arriving while one runs: reject | preempt
    executor_threads: int = 4  # the server's executor threads
    timeouts: Timeouts = field(default_factory=Timeouts)  # per phase, goal and recovery
    dryrun: DryRunConfig = field(default_factory=DryRunConfig)  # the dryrun backend
    sim: SimBackendConfig = field(default_factory=SimBackendConfig)  # the sim backend
    motion: MotionConfig = field(default_factory=MotionConfig)  # moveit / libfranka moves
    moveit: MoveItConfig = field(default_factory=MoveItConfig)  # the moveit backend's planner
    gripper: GripperConfig = field(default_factory=GripperConfig)  # the Franka Hand
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)  # Franka error recovery
    libfranka: LibfrankaConfig = field(default_factory=LibfrankaConfig)  # panda-py

    def __post_init__(self) -> None:
        check = Check(self)
        check.one_of("busy_policy", BUSY_POLICIES)
        check.at_least(2, "executor_threads", note="execute + cancel/feedback")
        check.non_negative("workspace_margin", "max_tilt", "feedback_period")
        if self.motion.transfer_height <= self.workspace.z_min:
            raise ConfigError("motion.transfer_height must lie above the workspace floor")


def default_config_file():
    return config_path("cliport_executor", "executor.yaml")


def load_executor_config(path=None) -> ExecutorConfig:
    return load_config(ExecutorConfig, path or default_config_file(), section="executor")
