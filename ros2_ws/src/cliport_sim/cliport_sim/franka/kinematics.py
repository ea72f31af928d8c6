"""Franka Panda / FR3 kinematics in numpy: forward kinematics, Jacobian, top-down IK refinement.

Both arms share one kinematic table (Craig's modified DH, flange 0.107 m beyond joint 7), so
one model serves both; only the joint limits differ (:data:`JOINT_LIMITS`). The TCP is the
Franka Hand's ``hand_tcp``: the hand is turned -45 deg about the flange's z, and the TCP lies
``tcp_offset`` (0.1034 m) along the hand's z. A pure-numpy model lets the IK refine without
touching the simulation's joint state (PyBullet's Jacobian needs the body set to ``q``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cliport_sim import ik
from cliport_sim.ik import rotation_error

# (a_{i-1}, d_i, alpha_{i-1}) of joints 1..7, then the flange (Craig's convention).
DH = ((0.0, 0.333, 0.0), (0.0, 0.0, -math.pi / 2), (0.0, 0.316, math.pi / 2),
      (0.0825, 0.0, math.pi / 2), (-0.0825, 0.384, -math.pi / 2), (0.0, 0.0, math.pi / 2),
      (0.088, 0.0, math.pi / 2))
FLANGE_D = 0.107
HAND_YAW = -math.pi / 4  # hand frame about the flange's z
TCP_OFFSET = 0.1034  # franka_description's hand_tcp, along the hand's z


@dataclass(frozen=True)
class JointLimits:
    """Position limits (rad) and velocity limits (rad/s) of the seven arm joints."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    velocity: tuple[float, ...]

    def contains(self, q: Sequence[float], tol: float = 1e-9) -> bool:
        q = np.asarray(q, dtype=np.float64)
        return bool(np.all(q >= np.asarray(self.lower) - tol)
                    and np.all(q <= np.asarray(self.upper) + tol))

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, self.lower, self.upper)


# Panda (FER): Franka's control-interface limits, narrower than the URDF's.
# FR3: franka_description robots/fr3/joint_limits.yaml.
JOINT_LIMITS = {
    "panda": JointLimits(
        lower=(-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973),
        upper=(2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973),
        velocity=(2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)),
    "fr3": JointLimits(
        lower=(-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159),
        upper=(2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159),
        velocity=(2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26)),
}


_TRIG = tuple((math.cos(alpha), math.sin(alpha)) for _, _, alpha in DH)


def _link(a: float, d: float, alpha: float, theta: float,
          trig: tuple[float, float] | None = None) -> np.ndarray:
    ca, sa = trig or (math.cos(alpha), math.sin(alpha))
    ct, st = math.cos(theta), math.sin(theta)
    return np.array([[ct, -st, 0.0, a],
                     [st * ca, ct * ca, -sa, -d * sa],
                     [st * sa, ct * sa, ca, d * ca],
                     [0.0, 0.0, 0.0, 1.0]])


def joint_frames(q: Sequence[float], tcp_offset: float = TCP_OFFSET) -> list[np.ndarray]:
    """Base-frame transforms of joints 1..7 (each turns about its frame's z), then the TCP."""
    frames = []
    T = np.eye(4)
    for (a, d, alpha), trig, theta in zip(DH, _TRIG, q, strict=True):
        T = T @ _link(a, d, alpha, float(theta), trig)
        frames.append(T)
    tcp = T @ _link(0.0, FLANGE_D, 0.0, HAND_YAW)
    tcp[:3, 3] += tcp[:3, 2] * tcp_offset
    frames.append(tcp)
    return frames


def tcp_transform(q: Sequence[float], tcp_offset: float = TCP_OFFSET) -> np.ndarray:
    """4x4 base-frame transform of the TCP for joint angles ``q``."""
    return joint_frames(q, tcp_offset)[-1]


def top_down_rotation(yaw: float) -> np.ndarray:
    """Rz(yaw) * Rx(pi): tool z down, tool x along ``yaw`` (cliport_executor.franka.poses)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def pose_error(q: Sequence[float], xyz: np.ndarray, R_target: np.ndarray,
               tcp_offset: float = TCP_OFFSET) -> tuple[float, float]:
    """(position error in m, orientation error in rad) of the TCP at ``q``."""
    T = tcp_transform(q, tcp_offset)
    return (float(np.linalg.norm(T[:3, 3] - xyz)),
            float(np.linalg.norm(rotation_error(R_target, T[:3, :3]))))


def refine(q0: Sequence[float], xyz: np.ndarray, R_target: np.ndarray, limits: JointLimits,
           tcp_offset: float = TCP_OFFSET, iterations: int = 50, damping: float = 1e-3,
           tolerance: float = 1e-7) -> np.ndarray:
    """Damped least squares on the TCP pose from ``q0``, clipped to ``limits`` every step.

    The redundant seventh degree of freedom is left where the seed put it (minimum-norm
    steps), so a null-space seed keeps its elbow.
    """
    def forward(q: np.ndarray):
        frames = joint_frames(q, tcp_offset)
        return frames[:7], frames[-1][:3, 3], frames[-1][:3, :3]

    return ik.refine(q0, forward, xyz, R_target, iterations=iterations, damping=damping,
                     tolerance=tolerance, clip=limits.clip, damping_scales_with_error=True)
