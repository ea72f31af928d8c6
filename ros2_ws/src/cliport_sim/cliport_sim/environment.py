"""The simulated tabletop: PyBullet DIRECT, an arm at the origin, a task, cameras.

The arm is chosen by ``SimConfig.robot``: the paper's UR5 with a suction cup (or spatula) and
three RealSense-like cameras, or the Franka twin (``panda``: a Panda with the Franka Hand run by
the real executor's ``moveit`` sequencing, :mod:`cliport_sim.twin`) on the Franka workspace,
seen by the twin's one calibrated camera.

Gym-like API: ``reset(seed) -> Observation`` and ``step(action) -> (obs, reward, done,
info)``, where ``info["lang_goal"]`` is the instruction for the *next* action. One
``numpy.random.Generator`` per episode (``env.rng``, from the seed) drives every random
choice, so a seed gives the same scene in any process and after any other episode.

Timing is in simulation steps only: motions have step budgets and the settle loop after a
primitive has a cap (the reference waits on wall-clock time and loops unbounded,
docs/design.md#step-budgets). The observation is the 320x160 colormap + heightmap fused from the
three RealSense-like views by perception's :class:`~cliport_perception.fusion.Fuser`, the same
code the ROS perception node runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p

from cliport_common.config import config_path, load_config
from cliport_common.poses import Pose
from cliport_perception.fusion import Fuser
from cliport_perception.rgbd import RGBDFrame
from cliport_perception.workspace import Workspace
from cliport_sim import assets, cameras, footprint
from cliport_sim.action import Action
from cliport_sim.geometry import IDENTITY_QUAT, matrix
from cliport_sim.primitives import pick_place, push
from cliport_sim.robot import UR5
from cliport_sim.tasks.base import Task, TaskSetupError
from cliport_sim.twin import TwinRobot, TwinSetup

ZONE_POINT_SPACING = 0.02  # metres between an object's zone-metric sample points
GROUND_Z = -0.01  # the ground plane's top: the workspace slab's underside
TWIN_SCENE_ATTEMPTS = 5  # scene draws per seed on the twin's smaller table


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings (``config/sim.yaml``, section ``sim``)."""

    # The arm: "ur5" (UR5 + suction / spatula, three cameras, the workspace below) or
    # "panda" (the Franka twin: Panda + Franka Hand, the workspace and camera of franka.yaml).
    robot: str = "ur5"
    hz: int = 480
    observe: bool = True  # make an observation after reset and every step
    # "views": the three RealSense-like cameras fused exactly as the perception node does;
    # "orthographic": one top-down render at the grid (exact maps, no holes; a demo ~1.6x cheaper).
    observation: str = "views"
    keep_frames: bool = False  # also return the raw RGB-D frames
    camera_noise: bool = False
    egl: bool = True  # use the EGL renderer plugin when it loads (~2x faster)
    settle_max_steps: int = 960
    settle_check_every: int = 8
    settle_velocity: float = 5e-3
    floor_tolerance: float = 0.002
    task_z_max: float = 0.3  # the task / oracle bounds (the agent's map stops at 0.28)
    # A Google Scanned Objects folder (reference layout: meshes_fixed/, textures/) for the
    # packing-google-objects tasks; empty = the built-in procedural named objects.
    google_objects_dir: str = ""
    workspace: Workspace = field(default_factory=Workspace)


OBSERVATIONS = ("views", "orthographic")
ROBOTS = ("ur5", "panda")


def load_sim_config(path: str | Path | None = None) -> SimConfig:
    return load_config(SimConfig, path or config_path("cliport_sim", "sim.yaml"), "sim")


@dataclass
class Observation:
    colormap: np.ndarray  # uint8 rows x cols x 3
    heightmap: np.ndarray  # float32 rows x cols, metres above the table
    valid: np.ndarray  # bool rows x cols, seen by at least one camera
    frames: list[RGBDFrame] | None = None


class Environment:
    """One PyBullet world running one task."""

    def __init__(self, task: Task, config: SimConfig | None = None,
                 camera_configs: tuple[cameras.CameraConfig, ...] = cameras.REALSENSE_D415
                 ) -> None:
        self.task = task
        self.config = config or SimConfig()
        if self.config.observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation mode {self.config.observation!r}; "
                             f"expected one of {OBSERVATIONS}")
        if self.config.robot not in ROBOTS:
            raise ValueError(f"unknown robot {self.config.robot!r}; expected one of {ROBOTS}")
        # The twin's settings (franka.yaml, executor.yaml), None for the UR5.
        self.twin: TwinSetup | None = None
        if self.config.robot == "panda":
            if task.primitive != "pick_place":
                raise ValueError(f"the Franka twin runs pick-and-place tasks; {task.name} "
                                 f"needs {task.primitive}")
            self.twin = TwinSetup.load()
        # The agent's grid: the Franka workspace on the twin.
        self.workspace = self.twin.workspace if self.twin else self.config.workspace
        ws = self.workspace
        self.task_workspace = Workspace(ws.x_min, ws.x_max, ws.y_min, ws.y_max, ws.z_min,
                                        self.config.task_z_max, ws.pixel_size)
        self.client = p.connect(p.DIRECT)
        self.egl = self.config.egl and cameras.load_egl(self.client)
        # The twin's one camera (cliport_sim.franka.rig.CameraRig) replaces the three views;
        # it is built when first needed (it reads the calibration file).
        self.rig = None
        self.camera_configs = () if self.twin else tuple(camera_configs)
        self.camera_models = [c.model() for c in self.camera_configs]
        self._oracle_cam = cameras.oracle_camera(self.task_workspace)
        self._ortho_cam = cameras.oracle_camera(ws)
        self._fuser = Fuser(ws, floor_tolerance=self.config.floor_tolerance)
        self.rng = np.random.default_rng(0)
        self.noise_rng = np.random.default_rng(1)
        self.robot: UR5 | TwinRobot | None = None
        self.obj_ids: dict[str, list[int]] = {"fixed": [], "rigid": [], "deformable": []}
        self._boxes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._colors: dict[int, tuple[float, ...]] = {}
        self._oracle_cache: cameras.OracleMaps | None = None
        self.steps = 0
        self.seed: int | None = None
        if self.twin and (self.config.keep_frames or (self.config.observe and
                                                       self.config.observation == "views")):
            self._twin_rig()
        # Called after every physics step (a StateRecorder's tick); None: nothing to call.
        self.on_physics_step: Callable[[], None] | None = None

    # --------------------------------------------------------------------------- episode
    def reset(self, seed: int) -> Observation:
        """Build the task's scene for ``seed``; raises TaskSetupError if it cannot fit.

        On the twin a scene that does not fit is drawn again (up to
        :data:`TWIN_SCENE_ATTEMPTS` times, the seed's generator going on), as the Franka
        workspace holds 41 % of the UR5's table: still one scene per seed.
        """
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        # Camera noise has its own stream so turning it on does not change the scene.
        self.noise_rng = np.random.default_rng([self.seed, 1])
        attempts = TWIN_SCENE_ATTEMPTS if self.twin is not None else 1
        for attempt in range(1, attempts + 1):
            try:
                self._build_scene()
                break
            except TaskSetupError:
                if attempt == attempts:
                    raise
        if self.task.settle_steps_after_reset:
            self.step_simulation(self.task.settle_steps_after_reset)
        self.settle()
        return self.observe()

    def _build_scene(self) -> None:
        c = self.client
        with cameras.quiet_stdout():  # the EGL plugin prints its vendor on every reset
            p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.8, physicsClientId=c)
        p.setTimeStep(1.0 / self.config.hz, physicsClientId=c)
        self.obj_ids = {"fixed": [], "rigid": [], "deformable": []}
        self._boxes = {}
        self._colors = {}
        self._oracle_cache = None
        self.steps = 0
        # The ground sits at the workspace slab's underside (1 cm down), not 1 mm under its
        # top as in the reference: 1 mm is below the renderer's depth resolution at the
        # far cameras, and the checkerboard z-fought through the table in streaks.
        p.loadURDF(str(assets.asset_path("plane/plane.urdf")), (0, 0, GROUND_Z),
                   physicsClientId=c)
        p.loadURDF(str(assets.asset_path("workspace/workspace.urdf")), (0.5, 0, 0),
                   physicsClientId=c)
        if self.twin is not None:
            self.robot = TwinRobot(c, self.twin, self._physics_stepped)
        else:
            self.robot = UR5(c, self.task.end_effector, self.config.hz)
            self.robot.on_step = self._physics_stepped
            self.robot.reset()
        self.task.reset(self)
        self._set_graspable()

    def step(self, action: Action | None, *, on_phase: Callable[[str], None] | None = None,
             should_stop: Callable[[], bool] | None = None,
             params: dict[str, float] | None = None) -> tuple[Observation, float, bool, dict]:
        """Run one primitive, let the scene settle, score it.

        ``on_phase`` and ``should_stop`` are handed to the primitive (the executor's feedback
        and cancel); ``params`` override the task's primitive parameters (e.g. a slower
        speed). A stopped primitive ends like a timed-out one, with
        ``info["primitive"]["reason"] == "stopped"``. On the twin the executor's own
        sequencing runs and ``params`` may only hold ``speed_scaling`` (the goal's).
        """
        info: dict = {}
        if action is None:
            return self.observe(), 0.0, self.task.done(), self._info(info)
        self.steps += 1
        params = {**self.task.primitive_params, **(params or {})}
        hooks = {"on_phase": on_phase, "should_stop": should_stop}
        if isinstance(self.robot, TwinRobot):  # the executor's sequencing: only a speed scaling
            result = self.robot.run(action, speed_scaling=params.get("speed_scaling", 0.0),
                                    **hooks)
        elif action.primitive == "push":
            result = push(self.robot, action.pose0, action.pose1, **params, **hooks)
        else:
            result = pick_place(self.robot, action.pose0, action.pose1, **params, **hooks)
        self._oracle_cache = None
        info["primitive"] = {"ok": result.ok, "grasped": result.grasped,
                             "reason": result.reason}
        if not result.ok:  # a motion ran out of its step budget: the episode ends, no reward
            info["timeout"] = True
            return self.observe(), 0.0, True, self._info(info)
        info["settled"] = self.settle()
        reward, reward_info = self.task.reward(self)
        info.update(reward_info)
        done = self.task.done() or self.steps >= self.task.max_steps
        return self.observe(), float(reward), done, self._info(info)

    def _info(self, info: dict) -> dict:
        info["lang_goal"] = self.task.lang_goal
        info["steps"] = self.steps
        return info

    @property
    def lang_goal(self) -> str:
        return self.task.lang_goal

    def close(self) -> None:
        if self.client >= 0:
            cameras.release_egl(self.client)
            with contextlib.suppress(p.error), cameras.quiet_stdout():  # already gone
                p.disconnect(physicsClientId=self.client)
            self.client = -1

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------------------- physics
    def step_simulation(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)
            self._physics_stepped()
        self._oracle_cache = None

    def _physics_stepped(self) -> None:
        if self.on_physics_step is not None:
            self.on_physics_step()

    def is_static(self) -> bool:
        v = self.config.settle_velocity
        for obj in self.obj_ids["rigid"]:
            lin, _ = p.getBaseVelocity(obj, physicsClientId=self.client)
            if lin[0] * lin[0] + lin[1] * lin[1] + lin[2] * lin[2] > v * v:
                return False
        return True

    def settle(self) -> bool:
        """Step until every rigid object is static; False if the step cap was hit."""
        cfg = self.config
        done = 0
        while done < cfg.settle_max_steps:
            if self.is_static():
                return True
            self.step_simulation(cfg.settle_check_every)
            done += cfg.settle_check_every
        return self.is_static()

    # --------------------------------------------------------------------------- objects
    def add_object(self, urdf: str | Path, pose: Pose, category: str = "rigid",
                   scale: float = 1.0, color=None, temporary: bool = False) -> int:
        """Load a URDF; ``category`` is fixed (static), rigid or deformable.

        ``temporary``: delete the file once loaded (a filled template: PyBullet keeps what
        it parsed, and a long demo run would otherwise leave one file per object).
        """
        if category not in self.obj_ids:
            raise ValueError(f"unknown object category {category!r}")
        try:
            body = p.loadURDF(str(urdf), pose[0], pose[1], useFixedBase=category == "fixed",
                              globalScaling=scale, physicsClientId=self.client)
        except p.error as exc:
            raise RuntimeError(f"cannot load {urdf}: {exc}") from exc
        finally:
            if temporary:
                Path(urdf).unlink(missing_ok=True)
        self.register_object(body, category)
        if color is not None:
            self.set_color(body, color)
        return body

    def register_object(self, body: int, category: str = "rigid") -> None:
        """Track a body made outside :meth:`add_object` (e.g. rope beads)."""
        self.obj_ids[category].append(body)
        self._boxes[body] = self._local_box(body)
        self._oracle_cache = None
        if category == "rigid":
            self._set_graspable()

    def _set_graspable(self) -> None:
        """Tell the suction cup what it may hold (the twin's hand grasps by contact alone)."""
        if isinstance(self.robot, UR5):
            self.robot.ee.set_graspable(self.obj_ids["rigid"])

    @property
    def parallel_gripper(self) -> bool:
        """Whether the arm grips with two fingers (the oracle then gives a grasp yaw)."""
        return self.twin is not None

    def set_color(self, body: int, color) -> None:
        """Colour every link: a palette name or an RGBA tuple in 0..1."""
        if isinstance(color, str):
            from cliport_sim.colors import rgba
            color = rgba(color)
        n = p.getNumJoints(body, physicsClientId=self.client)
        for link in range(-1, n):
            p.changeVisualShape(body, link, rgbaColor=list(color), physicsClientId=self.client)
        self._colors[body] = tuple(float(c) for c in color)

    def set_texture(self, body: int, image: str | Path) -> None:
        """Put an image texture on every link of ``body`` (e.g. a scanned object's)."""
        tex = p.loadTexture(str(image), physicsClientId=self.client)
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.client)):
            p.changeVisualShape(body, link, textureUniqueId=tex, physicsClientId=self.client)

    def color_of(self, body: int) -> tuple[float, ...] | None:
        """The RGBA last given to :meth:`set_color` (None if never recoloured).

        Kept here because with the EGL renderer ``getVisualShapeData`` goes on reporting
        the URDF's colour after ``changeVisualShape`` (the images are right).
        """
        return self._colors.get(body)

    def pose(self, body: int) -> Pose:
        pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        return tuple(pos), tuple(quat)

    def object_points(self, body: int) -> np.ndarray:
        """Sample points (object frame) on a 2 cm grid over the body's box, for zones."""
        lo, hi = self._boxes[body]
        axes = []
        for k in range(3):
            n = max(1, int(np.ceil((hi[k] - lo[k]) / ZONE_POINT_SPACING - 1e-9)))
            axes.append(lo[k] + (np.arange(n) + 0.5) * (hi[k] - lo[k]) / n)
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)

    def local_box(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """The body's bounding box (all links) in its own base frame, as (lo, hi)."""
        return self._boxes[body]

    def occupied_cells(self) -> np.ndarray:
        """Grid cells under any task object's oriented bounding box (rows x cols bool)."""
        taken = np.zeros(self.workspace.shape, dtype=bool)
        for ids in self.obj_ids.values():
            for body in ids:
                lo, hi = self._boxes[body]
                corners = footprint.box_corners(lo, hi, matrix(self.pose(body)))
                footprint.rasterize_convex(taken, corners[:, :2], self.workspace)
        return taken

    def _local_box(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.client
        pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=c)
        p.resetBasePositionAndOrientation(body, (0, 0, 0), IDENTITY_QUAT, physicsClientId=c)
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        for link in range(-1, p.getNumJoints(body, physicsClientId=c)):
            a, b = p.getAABB(body, link, physicsClientId=c)
            lo = np.minimum(lo, a)
            hi = np.maximum(hi, b)
        p.resetBasePositionAndOrientation(body, pos, quat, physicsClientId=c)
        return lo, hi

    # ------------------------------------------------------------------------- rendering
    def oracle_maps(self) -> cameras.OracleMaps:
        """Exact top-down colormap, heightmap and object mask (cached until physics moves)."""
        if self._oracle_cache is None:
            self._oracle_cache = cameras.render_oracle(self.client, self.task_workspace,
                                                       self._oracle_cam)
        return self._oracle_cache

    def _twin_rig(self):
        if self.rig is None:
            from cliport_sim.franka.rig import CameraRig

            self.rig = CameraRig(self.client)
            self.camera_configs = (self.rig.camera,)
            self.camera_models = [self.rig.model]
        return self.rig

    def camera_frames(self, names: list[str] | None = None,
                      stamp_ns: int = 0) -> list[RGBDFrame]:
        """The RealSense-like views (all, or ``names`` in that order) as RGB-D frames.

        On the twin: the rig's one camera, its depth degraded as ``franka.yaml`` says.
        """
        if self.twin is not None:
            rig = self._twin_rig()
            if names is not None and set(names) - {rig.camera.name}:
                raise ValueError(f"unknown cameras {sorted(set(names) - {rig.camera.name})}; "
                                 f"the twin has [{rig.camera.name!r}]")
            frame = rig.render_frame(self.noise_rng, stamp_ns)
            return [frame] * (1 if names is None else len(names))
        if names is None:
            selected = list(zip(self.camera_configs, self.camera_models, strict=True))
        else:
            by_name = {c.name: (c, m) for c, m in zip(self.camera_configs,
                                                      self.camera_models, strict=True)}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise ValueError(f"unknown cameras {missing}; this world has {sorted(by_name)}")
            selected = [by_name[n] for n in names]
        return [cameras.render_frame(self.client, cam, model, stamp_ns=stamp_ns,
                                     rng=self.noise_rng, noise=self.config.camera_noise)
                for cam, model in selected]

    def observe(self) -> Observation:
        rows, cols = self.workspace.shape
        if not self.config.observe:
            return Observation(np.zeros((rows, cols, 3), np.uint8),
                               np.zeros((rows, cols), np.float32), np.zeros((rows, cols), bool))
        if self.config.observation == "orthographic":
            top = cameras.render_oracle(self.client, self.workspace, self._ortho_cam,
                                        segmentation=False, shadow=True)
            frames = self.camera_frames() if self.config.keep_frames else None
            return Observation(top.colormap, top.heightmap, np.ones((rows, cols), bool), frames)
        frames = self.camera_frames()
        maps = self._fuser.fuse(frames)
        return Observation(maps.colormap, maps.heightmap, maps.valid,
                           frames if self.config.keep_frames else None)
