"""The recording session: what the web page and the ROS node share, without ROS.

One step at a time: the operator's clicks become a request (validated here: a map must have
arrived, the instruction must be printable and not empty or too long, both clicks inside the
grid); the node sends it as a ``PickPlace`` goal and reports feedback and the result; the
operator then accepts the step (it joins the episode) or discards it (redo = discard and try
again). Ending the episode writes it with the sim dataset's writer: a temporary file,
fsync, atomic rename, one fsync'd index line. A crash loses at most the episode in progress,
and the writer removes a killed run's temporary files when the next session opens.

Every recorded step keeps the map the operator clicked on, the instruction, pick and place
as grid cells + angles and as base-frame poses (z from that heightmap), the executor's
result, and the calibration id.

Yaws are the executor's (``cliport_executor.franka.poses``): a pose's yaw about +z in the
base frame is the tool's x axis; a parallel gripper's fingers close across it. With
``gripper: parallel`` the pick yaw is the grasp yaw, folded into [-90, 90) deg as the twin's
oracle labels it (a grasp and its half turn are the same grasp); the place yaw turns by the
same half turn, so the object's turn (place minus pick) is kept.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliport_common.poses import place_z, quat_from_yaw
from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_sim.dataset import EpisodeWriter, episode_dir, new_meta
from cliport_sim.episode import Episode, Views
from cliport_sim.labels import action_labels
from cliport_teleop.config import RecorderConfig


class StepError(ValueError):
    """A request the session refuses (the message is shown on the page)."""


@dataclass
class Click:
    u: int
    v: int
    theta: float = 0.0  # yaw in radians about +z (the drag direction on the map)


@dataclass
class Step:
    instruction: str
    pick: Click
    place: Click
    frame: HeightmapFrame
    stamp_ns: int
    pose0: tuple
    pose1: tuple
    success: bool | None = None
    message: str = ""
    reward: float = 0.0
    has_reward: bool = False
    goal_sent: bool = False
    views: list[tuple[np.ndarray, np.ndarray]] | None = None  # (colour, depth mm) per camera


def _click(data: Any, what: str) -> Click:
    if not isinstance(data, dict):
        raise StepError(f"click the {what} point on the map")
    try:
        u, v = int(data["u"]), int(data["v"])
        theta = float(data.get("theta", 0.0))
    except (KeyError, TypeError, ValueError):
        raise StepError(f"the {what} click is malformed") from None
    if not math.isfinite(theta):
        raise StepError(f"the {what} angle is not a number")
    return Click(u, v, theta)


def wrap(angle: float) -> float:
    """``angle`` in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def _disc(ws, shape: tuple[int, int], u: int, v: int, radius: float):
    """The window around cell (u, v) and the cells of it within ``radius`` metres."""
    r = int(radius / ws.pixel_size)
    rows, cols = shape
    u0, u1, v0, v1 = max(u - r, 0), min(u + r + 1, rows), max(v - r, 0), min(v + r + 1, cols)
    du, dv = np.mgrid[u0 - u:u1 - u, v0 - v:v1 - v]
    return (slice(u0, u1), slice(v0, v1)), du * du + dv * dv <= r * r


def _seen(frame: HeightmapFrame) -> np.ndarray:
    h = np.asarray(frame.heightmap)
    seen = np.isfinite(h)
    return seen if frame.valid is None else seen & np.asarray(frame.valid, bool)


def seen_height(frame: HeightmapFrame, u: int, v: int, radius: float) -> float | None:
    """Height of cell (u, v) above z_min: its own when a camera saw it, else the median of
    the seen cells within ``radius`` metres (a depth hole on a block's top is not the
    table); None when none of them was seen."""
    seen = _seen(frame)
    if seen[u, v]:
        return float(frame.heightmap[u, v])
    window, near = _disc(frame.workspace, seen.shape, u, v, radius)
    cells = np.asarray(frame.heightmap[window])[near & seen[window]]
    return float(np.median(cells)) if cells.size else None


def support_surface(frame: HeightmapFrame, u: int, v: int, radius: float) -> float:
    """The highest seen surface (z in the base frame) within ``radius`` metres of cell
    (u, v): what an object's footprint rests on when it is put down there."""
    seen = _seen(frame)
    window, near = _disc(frame.workspace, seen.shape, u, v, radius)
    cells = np.asarray(frame.heightmap[window])[near & seen[window]]
    return frame.workspace.z_min + (float(cells.max()) if cells.size else 0.0)


def grasp_yaws(pick: float, place: float) -> tuple[float, float]:
    """A parallel gripper's (pick, place) yaws with the pick folded into [-pi/2, pi/2) and
    the place turned with it (by 0 or pi), so the object's turn is unchanged."""
    folded = (pick + math.pi / 2.0) % math.pi - math.pi / 2.0
    return folded, wrap(place + folded - pick)


class TeleopSession:
    def __init__(self, cfg: RecorderConfig) -> None:
        self.cfg = cfg
        self.root = episode_dir(cfg.dataset_dir, cfg.task, cfg.mode)
        self.writer = EpisodeWriter(self.root)
        self.lock = threading.Lock()
        self.frame: HeightmapFrame | None = None
        self.frame_stamp_ns = 0
        self.steps: list[Step] = []
        self.active: Step | None = None  # sent to the executor, no result yet
        self.pending: Step | None = None  # executed, waiting for accept / discard
        self.phase, self.progress = "", 0.0
        self.messages: deque[dict[str, Any]] = deque(maxlen=20)
        self._seq = 0
        self._views: dict[str, dict[str, np.ndarray]] = {c: {} for c in cfg.views_cameras}
        if self.writer.removed:
            self._say("info", f"cleaned up after an interrupted run: {self.writer.removed}")

    # ------------------------------------------------------------------ messages
    def _say(self, level: str, text: str) -> str:
        self._seq += 1
        self.messages.append({"id": self._seq, "level": level, "text": text,
                              "time": time.time()})
        return text

    # ------------------------------------------------------------------ from ROS
    def on_heightmap(self, frame: HeightmapFrame, stamp_ns: int) -> None:
        with self.lock:
            self.frame, self.frame_stamp_ns = frame, stamp_ns

    def on_view(self, camera: str, kind: str, image: np.ndarray) -> None:
        """The newest ``kind`` ("color" uint8 HxWx3 or "depth" uint16 mm) of a camera."""
        with self.lock:
            if camera in self._views:
                self._views[camera][kind] = image

    def _views_now(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Every recorded camera's (colour, depth), or None when views are off; raises
        StepError while a camera has not delivered both."""
        if not self._views:
            return None
        missing = [c for c, v in self._views.items() if "color" not in v or "depth" not in v]
        if missing:
            raise StepError(f"no colour + depth images yet from {missing} (views_cameras)")
        return [(self._views[c]["color"], self._views[c]["depth"]) for c in self._views]

    def take_goal(self) -> Step | None:
        """The step to send now (the node calls this from its timer)."""
        with self.lock:
            if self.active is not None and not self.active.goal_sent:
                self.active.goal_sent = True
                return self.active
            return None

    def on_feedback(self, phase: str, progress: float) -> None:
        with self.lock:
            self.phase, self.progress = phase, float(progress)

    def on_result(self, success: bool, message: str, reward: float = 0.0,
                  has_reward: bool = False) -> None:
        with self.lock:
            step = self.active
            if step is None:
                return
            step.success, step.message = bool(success), message
            step.reward, step.has_reward = float(reward), bool(has_reward)
            self.active, self.pending = None, step
            self._say("info" if success else "error",
                      f"executed: {'success' if success else 'FAILED'}"
                      f"{': ' + message if message else ''}. Accept or discard the step.")

    def on_goal_failed(self, message: str) -> None:
        """The goal never ran (executor down, goal rejected): nothing is recorded."""
        with self.lock:
            self.active = None
            self.phase, self.progress = "", 0.0
            self._say("error", f"{message}; nothing was recorded")

    # ------------------------------------------------------------------ from the page
    def request_step(self, data: dict[str, Any]) -> str:
        with self.lock:
            if self.active is not None:
                raise StepError("a step is running; wait for its result")
            if self.pending is not None:
                raise StepError("accept or discard the last step first")
            if self.frame is None:
                raise StepError(f"no heightmap yet (is perception publishing "
                                f"{self.cfg.heightmap_topic}?)")
            instruction = data.get("instruction")
            if not isinstance(instruction, str) or not instruction.strip():
                raise StepError("type the instruction first")
            instruction = " ".join(instruction.split())
            if len(instruction) > self.cfg.max_instruction_length:
                raise StepError(f"the instruction is longer than "
                                f"{self.cfg.max_instruction_length} characters")
            if not instruction.isprintable():
                raise StepError("the instruction has non-printable characters")
            pick, place = _click(data.get("pick"), "pick"), _click(data.get("place"), "place")
            if self.cfg.gripper == "parallel":
                pick.theta, place.theta = grasp_yaws(pick.theta, place.theta)
            ws, frame = self.frame.workspace, self.frame
            for c, what in ((pick, "pick"), (place, "place")):
                if not ws.in_grid(c.u, c.v):
                    raise StepError(f"the {what} click ({c.u}, {c.v}) is outside the map "
                                    f"{ws.shape}")
            heights = []
            for c, what in ((pick, "pick"), (place, "place")):
                h = seen_height(frame, c.u, c.v, self.cfg.unseen_radius)
                if h is None:
                    raise StepError(f"the camera did not see the {what} cell ({c.u}, {c.v}) "
                                    f"or any cell within {self.cfg.unseen_radius * 1000:.0f} "
                                    f"mm of it; click where the map shows a surface")
                heights.append(ws.z_min + h)
            pick_xyz = (*ws.pixel_to_xy(pick.u, pick.v), heights[0])
            x, y = ws.pixel_to_xy(place.u, place.v)
            surface = max(heights[1], support_surface(frame, place.u, place.v,
                                                      self.cfg.place_support_radius))
            place_xyz = (x, y, place_z(surface, pick_xyz[2], ws.z_min) + self.cfg.place_clearance)
            step = Step(instruction, pick, place, frame, self.frame_stamp_ns,
                        (pick_xyz, quat_from_yaw(pick.theta)),
                        (place_xyz, quat_from_yaw(place.theta)), views=self._views_now())
            self.active, self.phase, self.progress = step, "sending", 0.0
            return self._say("info", f"executing \"{instruction}\": pick ({pick.u}, {pick.v}) "
                                     f"-> place ({place.u}, {place.v})")

    def accept(self) -> str:
        with self.lock:
            if self.pending is None:
                raise StepError("no executed step to accept")
            self.steps.append(self.pending)
            self.pending = None
            return self._say("info", f"step {len(self.steps)} accepted")

    def discard(self) -> str:
        with self.lock:
            if self.pending is None:
                raise StepError("no executed step to discard")
            self.pending = None
            return self._say("info", "step discarded: click pick and place again (redo)")

    def end_episode(self) -> str:
        with self.lock:
            if self.active is not None or self.pending is not None:
                raise StepError("finish the current step (accept or discard) first")
            if not self.steps:
                raise StepError("the episode has no accepted steps; nothing to save")
            if self.frame is None:
                raise StepError("no heightmap for the episode's last observation")
            final_views = self._views_now()
            views = None if final_views is None else Views(
                np.stack([np.stack([c for c, _ in v]) for v in
                          [s.views for s in self.steps] + [final_views]]),
                np.stack([np.stack([d for _, d in v]) for v in
                          [s.views for s in self.steps] + [final_views]]))
            path = self.writer.write(self._episode(), views)
            n = len(self.steps)
            self.steps = []
            return self._say("info", f"episode saved: {path.name} ({n} steps)")

    def _episode(self) -> Episode:
        frames = [s.frame for s in self.steps] + [self.frame]
        ws = self.frame.workspace
        labels = [action_labels(s.pose0, s.pose1, ws, self.cfg.n_rotations) for s in self.steps]

        def pose_array(p) -> list[float]:
            return [*p[0], *p[1]]

        def valid(f: HeightmapFrame) -> np.ndarray:
            return (np.ones(f.heightmap.shape, bool) if f.valid is None
                    else np.asarray(f.valid, bool))

        rewards = [0.0] + [s.reward if s.has_reward else float(bool(s.success))
                           for s in self.steps]
        seed = self.writer.next_seed(0, 1)
        return Episode(
            colormap=np.stack([f.colormap for f in frames]).astype(np.uint8),
            heightmap=np.stack([f.heightmap for f in frames]).astype(np.float32),
            valid=np.stack([valid(f) for f in frames]),
            pose0=np.array([pose_array(s.pose0) for s in self.steps], np.float64),
            pose1=np.array([pose_array(s.pose1) for s in self.steps], np.float64),
            pick_pix=np.array([lb.pick_pix for lb in labels], np.int32),
            place_pix=np.array([lb.place_pix for lb in labels], np.int32),
            pick_rot=np.array([lb.pick_rot for lb in labels], np.int32),
            place_rot=np.array([lb.place_rot for lb in labels], np.int32),
            reward=np.array(rewards, np.float64),
            instruction=np.array([s.instruction for s in self.steps]
                                 + [self.steps[-1].instruction]),
            meta=new_meta(
                self.cfg.task, self.cfg.mode, seed, ws, source="teleop",
                gripper=self.cfg.gripper, calibration_id=self.cfg.calibration_id,
                z_source="heightmap",
                steps=[{"pick": [s.pick.u, s.pick.v, s.pick.theta],
                        "place": [s.place.u, s.place.v, s.place.theta],
                        "heightmap_stamp_ns": s.stamp_ns, "success": s.success,
                        "message": s.message, "executor_reward": s.reward,
                        "has_reward": s.has_reward} for s in self.steps]))

    # ------------------------------------------------------------------ page state
    def state(self) -> dict[str, Any]:
        with self.lock:
            ws = self.frame.workspace if self.frame is not None else None
            step = self.active or self.pending
            return {
                "map_stamp": self.frame_stamp_ns,
                "grid": list(ws.shape) if ws is not None else None,
                # the page draws the tool: a parallel gripper's fingers this many cells apart
                "gripper": self.cfg.gripper,
                "finger_cells": (self.cfg.finger_opening / ws.pixel_size
                                 if ws is not None else None),
                "running": self.active is not None,
                "pending": None if self.pending is None else {
                    "success": self.pending.success, "message": self.pending.message,
                    "reward": self.pending.reward},
                "step": None if step is None else {"instruction": step.instruction},
                "phase": self.phase, "progress": self.progress,
                "episode_steps": len(self.steps),
                "episodes": self.writer.n_episodes,
                "views_missing": [c for c, v in self._views.items()
                                  if "color" not in v or "depth" not in v],
                "messages": list(self.messages),
            }

    def close(self) -> None:
        self.writer.close()


def dataset_root(cfg: RecorderConfig) -> Path:
    return episode_dir(cfg.dataset_dir, cfg.task, cfg.mode)
