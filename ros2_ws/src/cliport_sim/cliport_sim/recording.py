"""Episode recordings: the world's state at a video rate, to be rendered later.

A :class:`StateRecorder` hooked into an :class:`~cliport_sim.environment.Environment`
stores, every ``hz / fps`` physics steps, every body's base pose and joint positions (a few
hundred floats: microseconds, so the policy loop is not slowed). The episode is rebuilt
from its task, mode and seed (same seed, same scene in any process) and the states are
replayed into it for rendering (:mod:`cliport_sim.video`), after the episode or in another
process. Step results are kept as events at the frame where the step ended
(:class:`RecordsSteps` marks them for a node's executor backend).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from cliport_executor.request import ErrorCode

DEFAULT_FPS = 15  # video frames per simulated second


@dataclass
class StepEvent:
    """One executed step, drawn on the video from ``frame`` on."""

    frame: int
    step: int
    reward: float
    total_reward: float
    ok: bool
    message: str = ""


@dataclass
class Recording:
    """States of one episode: ``poses[t, b]`` = xyz + xyzw quaternion of body ``bodies[b]``,
    ``joints[t]`` = the positions of every body's movable joints, concatenated; ``robot`` is
    the environment's arm (``SimConfig.robot``: "ur5", or "panda" for the Franka twin), which
    the scene is rebuilt with."""

    task: str
    mode: str
    seed: int
    instruction: str
    fps: int
    bodies: list[int]
    joint_index: list[tuple[int, int]]  # (body, joint) of each column of ``joints``
    poses: np.ndarray  # [T, B, 7] float32
    joints: np.ndarray  # [T, J] float32
    events: list[StepEvent] = field(default_factory=list)
    robot: str = "ur5"

    @property
    def n_frames(self) -> int:
        return int(self.poses.shape[0])

    def to_bytes(self) -> bytes:
        """A compressed ``.npz``: the arrays and a JSON header."""
        meta = {"task": self.task, "mode": self.mode, "seed": self.seed,
                "instruction": self.instruction, "fps": self.fps, "bodies": self.bodies,
                "joint_index": self.joint_index, "robot": self.robot,
                "events": [e.__dict__ for e in self.events]}
        buf = io.BytesIO()
        np.savez_compressed(buf, poses=self.poses, joints=self.joints,
                            meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Recording:
        with np.load(io.BytesIO(data)) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            return cls(meta["task"], meta["mode"], int(meta["seed"]), meta["instruction"],
                       int(meta["fps"]), list(meta["bodies"]),
                       [tuple(j) for j in meta["joint_index"]], z["poses"], z["joints"],
                       [StepEvent(**e) for e in meta["events"]],
                       meta.get("robot", "ur5"))  # recordings older than the field: the UR5

    def to_text(self) -> str:
        """Base64 of :meth:`to_bytes`, for a string field (a ROS service's message)."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Recording:
        return cls.from_bytes(base64.b64decode(text))


def scene_layout(client: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Every body of ``client`` and its movable (revolute / prismatic) joints."""
    bodies = [p.getBodyUniqueId(i, physicsClientId=client)
              for i in range(p.getNumBodies(physicsClientId=client))]
    joints = []
    for b in bodies:
        for j in range(p.getNumJoints(b, physicsClientId=client)):
            if p.getJointInfo(b, j, physicsClientId=client)[2] in (p.JOINT_REVOLUTE,
                                                                   p.JOINT_PRISMATIC):
                joints.append((b, j))
    return bodies, joints


class StateRecorder:
    """Records an environment's states every ``hz / fps`` physics steps.

    ``start(env)`` after ``env.reset`` (it hooks the env and takes the first frame);
    ``step_ended(...)`` after each ``env.step``; ``recording()`` returns what was kept.
    """

    def __init__(self, fps: int = DEFAULT_FPS, max_frames: int = 20_000) -> None:
        if fps < 1:
            raise ValueError(f"fps must be >= 1, got {fps}")
        self.fps = fps
        self.max_frames = max_frames  # about 22 simulated minutes at 15 fps
        self._env = None
        self._every = 1
        self._count = 0
        self._poses: list[np.ndarray] = []
        self._joints: list[np.ndarray] = []
        self._events: list[StepEvent] = []
        self._total = 0.0
        self._layout: tuple[list[int], list[tuple[int, int]]] = ([], [])
        self._instruction = ""
        self._previous = None  # the env's hook before ours, still called
        self._hooked = None  # the env whose hook we wrapped

    def start(self, env) -> None:
        """Begin a new recording of ``env``'s current episode (call after its reset)."""
        self._env = env
        # The client's own rate: the twin's arm sets its own (franka.yaml), not the config's.
        step = p.getPhysicsEngineParameters(physicsClientId=env.client)["fixedTimeStep"]
        self._every = max(1, round(1.0 / (step * self.fps)))
        self._count = 0
        self._poses, self._joints, self._events = [], [], []
        self._total = 0.0
        self._layout = scene_layout(env.client)
        self._instruction = env.lang_goal
        if self._hooked is not env:  # wrap once: a hook set after ours stays outside it
            self._previous = env.on_physics_step
            env.on_physics_step = self._tick
            self._hooked = env
        self.capture()

    def stop(self) -> None:
        """Unhook from the env (its previous hook back in place)."""
        if self._env is not None and self._env.on_physics_step == self._tick:
            self._env.on_physics_step = self._previous
            self._hooked = None

    def _tick(self) -> None:
        if self._previous is not None:
            self._previous()
        self._count += 1
        if self._count % self._every == 0:
            self.capture()

    def capture(self) -> None:
        """Keep the world's state now (one video frame)."""
        if self._env is None or len(self._poses) >= self.max_frames:
            return
        c = self._env.client
        bodies, joints = self._layout
        poses = np.empty((len(bodies), 7), np.float32)
        for i, b in enumerate(bodies):
            pos, quat = p.getBasePositionAndOrientation(b, physicsClientId=c)
            poses[i, :3], poses[i, 3:] = pos, quat
        q = np.array([p.getJointState(b, j, physicsClientId=c)[0] for b, j in joints],
                     np.float32)
        self._poses.append(poses)
        self._joints.append(q)

    def step_ended(self, reward: float, ok: bool, message: str = "") -> None:
        """Mark the end of one executed step (its result is drawn from here on)."""
        if self._env is None:
            return
        self.capture()
        self._total += float(reward)
        self._events.append(StepEvent(len(self._poses) - 1, len(self._events) + 1,
                                      float(reward), self._total, bool(ok), message))

    def recording(self) -> Recording:
        env = self._env
        if env is None:
            raise RuntimeError("nothing recorded: start(env) was never called")
        bodies, joints = self._layout
        n_joints = len(joints)
        return Recording(
            env.task.name, env.task.mode, int(env.seed), self._instruction, self.fps,
            list(bodies), list(joints),
            np.stack(self._poses) if self._poses else np.zeros((0, len(bodies), 7), np.float32),
            np.stack(self._joints) if self._joints else np.zeros((0, n_joints), np.float32),
            list(self._events), env.config.robot)


class RecordsSteps:
    """Mixin for an executor backend on a world thread (``self.world``): each executed goal
    marks a step in ``recorder`` (its result is drawn on the episode's video). A goal refused
    as invalid moved nothing and marks none.

    ``recorder`` is a keyword of the constructor (None: no recording); the rest goes to the
    backend. Nodes of different worlds (the UR5 sim, the Franka twin) share it."""

    def __init__(self, config, *, recorder: StateRecorder | None = None, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.recorder = recorder

    def execute(self, request, supervisor):
        outcome = super().execute(request, supervisor)
        if self.recorder is not None and outcome.error_code != ErrorCode.INVALID_GOAL:
            self.world.call(self.recorder.step_ended, float(outcome.reward or 0.0),
                            outcome.success, outcome.message)
        return outcome
