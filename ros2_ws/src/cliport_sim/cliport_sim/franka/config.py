"""The Franka twin's arm and hand settings (``config/franka.yaml``, section ``franka``).

Loaded strictly (an unknown key or a wrong type is an error naming the key). The camera rig
keeps its own section of the same file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from cliport_common.config import Check, ConfigError, config_path, load_config
from cliport_perception.workspace import Workspace
from cliport_sim.franka.kinematics import JOINT_LIMITS, TCP_OFFSET

READY_JOINTS = (0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4)


@dataclass(frozen=True)
class IKConfig:
    """Acceptance of a top-down IK solution and the solver's effort."""

    position_tolerance: float = 0.001  # m: worst TCP position residual accepted
    angle_tolerance: float = 0.5  # deg: worst TCP orientation residual accepted
    seed_iterations: int = 20  # PyBullet null-space IK iterations per seed
    refine_iterations: int = 60  # damped least-squares steps after each seed

    def __post_init__(self) -> None:
        Check(self, "franka.ik").positive("position_tolerance", "angle_tolerance")


@dataclass(frozen=True)
class ArmMotionConfig:
    """How the twin's arm follows joint-space and straight-line motions."""

    max_linear_speed: float = 1.0  # m/s of the TCP at scaling 1 (Pilz's Cartesian limit)
    max_angular_speed: float = 1.57  # rad/s of the TCP yaw at scaling 1
    position_gain: float = 0.3  # PyBullet position-control gain of the arm joints
    velocity_gain: float = 1.0  # and its velocity gain
    joint_tolerance: float = 0.0005  # rad: a motion has reached its target when every joint
    # is this close
    budget_factor: float = 2.0  # step budget = factor * planned steps + margin
    budget_margin: float = 1.0  # s of simulated time added to every step budget
    brake_time: float = 0.3  # s: at most this long to come to rest after a stop
    rest_velocity: float = 0.001  # rad/s: every joint slower than this = at rest

    def __post_init__(self) -> None:
        Check(self, "franka.motion").positive(
            "max_linear_speed", "max_angular_speed", "position_gain", "velocity_gain",
            "joint_tolerance", "budget_factor", "brake_time", "rest_velocity")


@dataclass(frozen=True)
class HandConfig:
    """The Franka Hand's two fingers (franka_gripper semantics)."""

    max_width: float = 0.08  # m: full opening
    max_speed: float = 0.1  # m/s: fastest opening/closing speed accepted
    max_force: float = 70.0  # N: strongest grasp accepted (continuous force)
    move_force: float = 20.0  # N per finger: force limit of move/homing (no object)
    coupling_force: float = 200.0  # N: strength of the constraint coupling the two fingers
    finger_friction: float = 1.0  # lateral friction of the fingertips
    finger_spinning_friction: float = 0.1  # keeps a held object from spinning about the pads
    stall_speed: float = 0.001  # m/s: fingers slower than this have stopped
    stall_time: float = 0.05  # s: they must stay stopped this long to count as stalled
    timeout: float = 3.0  # s of simulated time before a move or grasp gives up

    def __post_init__(self) -> None:
        Check(self, "franka.hand").positive(
            "max_width", "max_speed", "max_force", "move_force", "coupling_force",
            "finger_friction", "stall_speed", "stall_time", "timeout")


def _default_workspace() -> Workspace:
    return Workspace(x_min=0.30, x_max=0.62, y_min=-0.32, y_max=0.32, z_min=0.0, z_max=0.28,
                     pixel_size=0.002)


@dataclass(frozen=True)
class FrankaConfig:
    """The simulated Panda / FR3 with the Franka Hand, and its reachable workspace."""

    model: str = "panda"  # panda | fr3: which joint limits are active
    hz: int = 240  # physics steps per simulated second
    solver_iterations: int = 150  # PyBullet constraint-solver iterations per step
    # rad: the joints at start and after a reset (franka's MoveIt "ready" pose)
    ready_joints: tuple[float, float, float, float, float, float, float] = READY_JOINTS
    tcp_offset: float = TCP_OFFSET  # m: TCP along the hand's z (hand_tcp)
    ik: IKConfig = field(default_factory=IKConfig)  # top-down IK acceptance and effort
    motion: ArmMotionConfig = field(default_factory=ArmMotionConfig)  # how motions are followed
    hand: HandConfig = field(default_factory=HandConfig)  # the Franka Hand's fingers
    workspace: Workspace = field(default_factory=_default_workspace)  # reachable top-down

    def __post_init__(self) -> None:
        check = Check(self, "franka")
        check.one_of("model", sorted(JOINT_LIMITS))
        check.positive("hz", "solver_iterations", "tcp_offset")
        if not JOINT_LIMITS[self.model].contains(self.ready_joints):
            raise ConfigError(f"franka.ready_joints lie outside the {self.model} limits")

    @property
    def limits(self):
        return JOINT_LIMITS[self.model]


def default_config_file() -> Path:
    return config_path("cliport_sim", "franka.yaml")


def load_franka_config(path: str | Path | None = None) -> FrankaConfig:
    """:class:`FrankaConfig` from ``path`` (default: the package's ``franka.yaml``)."""
    return load_config(FrankaConfig, path or default_config_file(), section="franka")
