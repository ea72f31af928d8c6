"""The policy node's typed configuration and its refusal rules, as plain functions (no rclpy).

``config/policy_node.yaml`` (section ``policy_node``) is loaded strictly into
:class:`PolicyNodeConfig`; the node mirrors every field as a ROS parameter. The checks the node
applies before and after acting are here so they can be unit-tested without ROS:

* :func:`clean_instruction`: strip; refuse empty, over-long, and any control, format,
  surrogate, private-use, unassigned or line/paragraph-separator character (``\\x07``,
  ``\\x1b``, zero-width and bidi marks, ...), and text without a letter. Spaces inside are
  kept.
* :func:`check_heightmap_header`: a heightmap must have arrived, be in ``base_frame`` and be
  at most ``max_heightmap_age`` s old (or ahead of) the node clock.
* :func:`decode_heightmap`: the three above for a ``Heightmap`` message, as the node acts on
  it: header, decoding (:func:`cliport_perception.heightmap_msg.from_msg`), content.
* :func:`check_heightmap`: the decoded grid has the expected shape, some finite height, no
  finite height outside its own z bounds and, when a valid mask is present, at least one
  seen cell. (Non-finite heights read as unseen, as the agent and the poses treat them.)
* :func:`check_poses`: a decision's poses are finite and inside the heightmap's workspace box.
* :func:`load_policy`: the checkpoint's agent; :func:`decide`: its :class:`PolicyDecision`
  (cells and poses) on a checked heightmap.

Each raises :class:`Refusal` with the reason the node logs and publishes on its status topic.
:class:`OffTaskWarnings` says, once per instruction, that it is of no task the checkpoint was
trained on.
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cliport_common.config import Check, ConfigError, config_path, load_config
from cliport_common.frames import BASE_FRAME
from cliport_common.poses import Pose
from cliport_common.stamps import stamp_to_ns
from cliport_perception.heightmap_msg import HeightmapFrame, from_msg
from cliport_perception.workspace import Workspace
from cliport_policy.cpu_isa import PRECISIONS
from cliport_policy.off_task import instruction_warning
from cliport_policy.poses import decision_poses

if TYPE_CHECKING:
    from cliport_policy.agents import AgentOutput

MODES = ("publish", "execute")
BUSY_POLICIES = ("queue_latest", "reject")
# Unicode categories refused in an instruction: Cc control, Cf format (zero-width, bidi
# overrides), Cs surrogates, Co private use, Cn unassigned, Zl / Zp line / paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
PREVIEW_CHARS = 60  # characters of an instruction echoed in logs and status messages
# m a finite height may lie outside [0, z_max - z_min]: one absurd height (1 km) outweighs
# the scene and moves the pick; perception's heights never leave the range
HEIGHT_SLACK = 0.01
OFF_TASK_MEMORY = 1000  # instructions remembered as warned about (free text: bounded)


class Refusal(ValueError):
    """An instruction the node will not act on; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class PolicyNodeTopics:
    """The node's topic names (relative: under its namespace)."""

    heightmap: str = "heightmap"  # cliport_msgs/Heightmap in, as perception publishes it
    instruction: str = "instruction"  # std_msgs/String in
    decision: str = "policy/decision"  # cliport_msgs/PickPlaceDecision out
    pick_heatmap: str = "policy/pick_heatmap"  # rgb8 overlay of the pick attention
    place_heatmap: str = "policy/place_heatmap"  # rgb8 overlay of the place transport
    markers: str = "policy/markers"  # visualization_msgs/MarkerArray: pick / place arrows
    status: str = "policy/status"  # std_msgs/String, one JSON object per event

    def __post_init__(self) -> None:
        Check(self, "policy_node.topics").not_empty(*vars(self))


@dataclass(frozen=True)
class PolicyNodeConfig:
    """The policy node: which checkpoint acts, on what, and what it publishes or sends."""

    checkpoint: str = ""  # .ckpt file or package:// URL; empty: every instruction is refused
    device: str = "cpu"  # torch device: cpu | cuda | cuda:0 ...
    clip_pretrained: str = ""  # override of the checkpoint's CLIP weights; "" = as trained
    threads: int = 0  # torch CPU threads (0 = torch's default)
    precision: str = "auto"  # auto | fp32 | bf16 (auto: bf16 where the device computes it)
    mode: str = "publish"  # publish: decisions only | execute: also send PickPlace goals
    busy_policy: str = "queue_latest"  # an instruction while one runs: queue_latest | reject
    base_frame: str = BASE_FRAME  # heightmaps in another frame are refused
    grid_shape: tuple[int, int] = (320, 160)  # (rows, columns) expected; (0, 0): any grid
    max_instruction_length: int = 256  # characters after stripping
    max_heightmap_age: float = 2.0  # s between the heightmap's stamp and the clock; 0 = off
    speed_scaling: float = 0.0  # a PickPlace goal's speed_scaling; 0 = the arm's default
    action_name: str = "pick_place"  # the executor's PickPlace action
    server_wait: float = 2.0  # s to wait for the action server before reporting it missing
    goal_timeout: float = 300.0  # s a goal may run before the node cancels it
    publish_heatmaps: bool = True  # the pick / place heatmap overlays
    publish_markers: bool = True  # the pick / place arrows and the instruction
    topics: PolicyNodeTopics = field(default_factory=PolicyNodeTopics)  # the node's topics

    def __post_init__(self) -> None:
        check = Check(self, "policy_node")
        check.one_of("mode", MODES)
        check.one_of("busy_policy", BUSY_POLICIES)
        check.one_of("precision", PRECISIONS)
        check.not_empty("device", note="cpu, cuda, cuda:0, ...")
        check.not_empty("base_frame", "action_name")
        check.non_negative("threads", note="0 = torch's default")
        rows, cols = self.grid_shape
        if rows < 0 or cols < 0 or (rows == 0) != (cols == 0):
            raise check.fail("grid_shape", "two positive integers, or [0, 0] for any grid")
        check.at_least(1, "max_instruction_length")
        check.non_negative("max_heightmap_age", "server_wait")
        check.positive("goal_timeout")
        check.within("speed_scaling", 0.0, 1.0, note="0 = the arm's default")


def default_config_file() -> Path:
    return config_path("cliport_policy", "policy_node.yaml")


def load_node_config(path: str | Path | None = None) -> PolicyNodeConfig:
    return load_config(PolicyNodeConfig, path or default_config_file(), section="policy_node")


# --------------------------------------------------------------------------- checkpoint


def checkpoint_file(cfg: PolicyNodeConfig) -> Path:
    """The checkpoint's path: a file path, or ``package://<package>/<path>`` (a model shipped
    in a package, found in any install layout, as the graphs' parameter files are)."""
    from cliport_perception.sources.calibration_file import PACKAGE_SCHEME, resolve_file

    text = cfg.checkpoint.strip()
    if text.startswith(PACKAGE_SCHEME):
        return resolve_file(text)
    return Path(text).expanduser()


def checkpoint_problem(cfg: PolicyNodeConfig) -> str | None:
    """Why the configured checkpoint cannot be loaded before trying, or None."""
    if not cfg.checkpoint.strip():
        return ("no checkpoint configured: set the 'checkpoint' parameter to a policy .ckpt "
                "file (e.g. --ros-args -p checkpoint:=/path/to/last.ckpt)")
    try:
        path = checkpoint_file(cfg)
    except ConfigError as exc:
        return f"checkpoint {cfg.checkpoint!r}: {exc} (parameter 'checkpoint')"
    if not path.is_file():
        return f"checkpoint {str(path)!r} does not exist (parameter 'checkpoint')"
    return None


def load_policy(cfg: PolicyNodeConfig) -> tuple[Any, list[str]]:
    """The agent in ``cfg.checkpoint`` on ``cfg.device`` and the tasks it was trained on, or
    Refusal with the reason (which then refuses every instruction)."""
    problem = checkpoint_problem(cfg)
    if problem is not None:
        raise Refusal(problem)
    try:
        import torch

        from cliport_policy.checkpoint import CheckpointError, load_agent
        from cliport_policy.off_task import checkpoint_train_tasks

        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        path = checkpoint_file(cfg)
        try:
            agent = load_agent(path, device=cfg.device,
                               clip_pretrained=cfg.clip_pretrained or None)
            agent.precision = cfg.precision
            return agent, checkpoint_train_tasks(path)
        except CheckpointError as exc:
            raise Refusal(str(exc)) from exc
    except Refusal:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. an unavailable device
        raise Refusal(f"cannot load checkpoint {cfg.checkpoint!r} on {cfg.device!r}: "
                      f"{type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------- instruction


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` shortened for logs (the repr of a refused one shows its control characters)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def clean_instruction(raw: str, max_length: int) -> str:
    """The stripped instruction, or Refusal when it is empty, too long or not printable."""
    if not isinstance(raw, str):
        raise Refusal(f"instruction must be a string, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise Refusal("instruction is empty")
    if len(text) > max_length:
        raise Refusal(f"instruction has {len(text)} characters; at most {max_length} are "
                      f"accepted (parameter max_instruction_length)")
    letters = False
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category in REFUSED_CATEGORIES:
            raise Refusal(f"instruction has a non-printable character U+{ord(ch):04X} "
                          f"({unicodedata.name(ch, category)}) at position {i}")
        letters = letters or category[0] == "L"
    if not letters:
        raise Refusal(f"instruction has no letters: {preview(text)!r}")
    return text


class OffTaskWarnings:
    """Once per instruction, the warning that it fits no task the checkpoint was trained on
    (:func:`cliport_policy.off_task.instruction_warning`): the node acts on it anyway."""

    def __init__(self, train_tasks: Sequence[str]) -> None:
        self._tasks = list(train_tasks)
        self._seen: set[str] = set()
        if self._tasks:  # compiles the task templates now, not on the first instruction
            instruction_warning("", self._tasks)

    def first_warning(self, instruction: str) -> str | None:
        """The warning, the first time ``instruction`` is off task; None otherwise."""
        if not self._tasks or instruction in self._seen:
            return None
        if len(self._seen) >= OFF_TASK_MEMORY:
            self._seen.clear()
        self._seen.add(instruction)
        return instruction_warning(instruction, self._tasks)


# --------------------------------------------------------------------------- heightmap


def check_heightmap_header(frame_id: str | None, stamp_ns: int | None, now_ns: int,
                           cfg: PolicyNodeConfig) -> None:
    """Refusal unless a heightmap has arrived, in ``base_frame``, fresh enough.

    ``frame_id`` None means no heightmap has arrived yet.
    """
    if frame_id is None or stamp_ns is None:
        raise Refusal(f"no heightmap received yet on '{cfg.topics.heightmap}'")
    if frame_id != cfg.base_frame:
        raise Refusal(f"the latest heightmap is in frame {preview(frame_id)!r}, not the base "
                      f"frame {cfg.base_frame!r}")
    if cfg.max_heightmap_age > 0:
        age = (now_ns - stamp_ns) * 1e-9
        if age > cfg.max_heightmap_age:
            raise Refusal(f"the latest heightmap is stale: {age:.2f} s old (max_heightmap_age "
                          f"{cfg.max_heightmap_age:g} s)")
        if age < -cfg.max_heightmap_age:
            raise Refusal(f"the latest heightmap is stamped {-age:.2f} s in the future "
                          f"(do the clocks agree?)")


def check_heightmap(frame: HeightmapFrame, now_ns: int, cfg: PolicyNodeConfig) -> None:
    """Refusal for a heightmap the policy must not act on (header, grid, content)."""
    check_heightmap_header(frame.frame_id, frame.stamp_ns, now_ns, cfg)
    want = tuple(cfg.grid_shape)
    if want != (0, 0) and frame.heightmap.shape != want:
        raise Refusal(f"the heightmap grid is {frame.heightmap.shape[0]}x"
                      f"{frame.heightmap.shape[1]}; the policy expects {want[0]}x{want[1]} "
                      f"(parameter grid_shape)")
    finite = frame.heightmap[np.isfinite(frame.heightmap)]
    if finite.size == 0:
        raise Refusal("the heightmap has no finite height (all NaN or empty)")
    top = frame.workspace.z_max - frame.workspace.z_min
    # float64 bounds: a Python float would be cast to the map's float32 and overflow
    outside = (finite < np.float64(-HEIGHT_SLACK)) | (finite > np.float64(top + HEIGHT_SLACK))
    if outside.any():
        raise Refusal(f"the heightmap has {int(outside.sum())} heights outside the workspace's "
                      f"z range [0, {top:g}] m above z_min (from {float(finite.min()):g} to "
                      f"{float(finite.max()):g})")
    if frame.valid is not None and not frame.valid.any():
        raise Refusal("the heightmap's valid mask is empty: no camera saw any cell")


def check_latest_header(msg, now_ns: int, cfg: PolicyNodeConfig) -> None:
    """:func:`check_heightmap_header` of the latest ``Heightmap`` message (None: none yet),
    without decoding it: what an instruction is checked against on arrival."""
    if msg is None:
        check_heightmap_header(None, None, now_ns, cfg)
    check_heightmap_header(msg.header.frame_id, stamp_to_ns(msg.header.stamp), now_ns, cfg)


def decode_heightmap(msg, now_ns: int, cfg: PolicyNodeConfig) -> HeightmapFrame:
    """The latest ``Heightmap`` message (None: none yet) decoded and checked, or Refusal.

    The header is checked before decoding: a heightmap in another frame or a stale one is
    never decoded.
    """
    check_latest_header(msg, now_ns, cfg)
    try:
        frame = from_msg(msg)
    except ValueError as exc:
        raise Refusal(f"the latest heightmap cannot be decoded: {exc}") from exc
    check_heightmap(frame, now_ns, cfg)
    return frame


# --------------------------------------------------------------------------- decision

def check_poses(workspace: Workspace, pick: Pose, place: Pose) -> None:
    """Refusal when a pose is non-finite or outside the workspace box (edges included)."""
    for name, (pos, quat) in (("pick", pick), ("place", place)):
        if not all(math.isfinite(v) for v in (*pos, *quat)):
            raise Refusal(f"the decision's {name} pose is not finite: {pos} {quat}")
        if not workspace.contains(*pos):
            x, y, z = pos
            raise Refusal(f"the decision's {name} pose ({x:.3f}, {y:.3f}, {z:.3f}) lies outside "
                          f"the workspace x [{workspace.x_min}, {workspace.x_max}], y "
                          f"[{workspace.y_min}, {workspace.y_max}], z [{workspace.z_min}, "
                          f"{workspace.z_max}]")


@dataclass(frozen=True)
class PolicyDecision:
    """The agent's output for one instruction and its poses in the heightmap's frame."""

    output: AgentOutput  # cells, rotation bins, scores and heatmaps
    pick: Pose
    place: Pose
    inference_time: float  # s the agent took


def decide(agent, frame: HeightmapFrame, instruction: str) -> PolicyDecision:
    """The agent's decision on a checked heightmap, or Refusal when a pose leaves the
    workspace (anything that can move an arm refuses what it cannot trust)."""
    started = time.perf_counter()
    output = agent.act(frame.colormap, frame.heightmap, instruction)
    inference_time = time.perf_counter() - started
    pick, place = decision_poses(frame.workspace, frame.heightmap, output.pick, output.place,
                                 agent.config.pick_rotations, agent.config.place_rotations)
    try:
        check_poses(frame.workspace, pick, place)
    except Refusal as exc:
        raise Refusal(f"{exc} (pick cell {list(output.pick[:2])}, place cell "
                      f"{list(output.place[:2])})") from exc
    return PolicyDecision(output, pick, place, inference_time)


# --------------------------------------------------------------------------- status

EVENTS = ("ready", "load_failed", "accepted", "queued", "superseded", "refused", "decided",
          "server_unavailable", "goal_accepted", "goal_rejected", "goal_succeeded",
          "goal_failed", "goal_timeout", "announce_failed", "off_task")


def status_text(event: str, job: int | None = None, instruction: str | None = None,
                **fields: Any) -> str:
    """One status message: a single-line JSON object with ``event`` first.

    ``job`` numbers the instructions the node received (0 for node-level events).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown status event {event!r}; known: {EVENTS}")
    data: dict[str, Any] = {"event": event}
    if job is not None:
        data["job"] = int(job)
    if instruction is not None:
        data["instruction"] = preview(instruction)
    data.update(fields)
    return json.dumps(data, ensure_ascii=True, sort_keys=False)
