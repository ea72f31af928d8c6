"""Demo episodes on disk: one compressed ``.npz`` per episode, an index, a random-access reader.

Why not the reference's layout (docs/design.md#fused-storage): it pickles the three raw 640x480
RGB-D views of every step (~6.45 MB/step), re-fuses them on every sample, and lists the
directory on each load. Here an episode stores what training reads, already fused: the
320x160 colormap, heightmap (metres above the table, bit-exact) and seen-mask per step,
the oracle's poses and the labels derived from them, rewards and instructions. Raw views
are optional, in a separate ``<episode>-views.npz``.

File format (``FORMAT_VERSION``): a zip of ``.npy`` members, so ``np.load(path,
allow_pickle=False)`` opens it with numpy alone. Most members are plain arrays named as
in :class:`Episode`. Three image members are stored *encoded* so deflate can squeeze them;
their member name says how (``meta["encoding"]`` repeats it), and each decodes in one numpy
line:

* ``heightmap.xor_t`` uint32 [T+1,H,W]: the float32 bits of step t XOR those of step t-1
  (an unchanged cell becomes 0); ``np.bitwise_xor.accumulate(a, 0).view(np.float32)``.
* ``colormap.sub_t`` uint8 [T+1,H,W,3]: step t minus step t-1 modulo 256;
  ``np.cumsum(a, 0, dtype=np.uint8)``.
* ``valid.packbits`` uint8 [T+1,H,ceil(W/8)]: ``np.unpackbits(a, -1, count=W).astype(bool)``.

Writes are atomic (temporary name in the same directory, fsync, ``os.replace``, fsync of the
directory) and then recorded by one fsync'd line in ``index.jsonl``; oracle failures go to
``attempts.jsonl``, so a killed generator resumes without retrying or duplicating a seed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cliport_common.poses import Pose, quat_from_yaw, yaw_of
from cliport_perception.workspace import Workspace

try:
    __version__ = metadata.version("cliport_sim")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.1.0"

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
INDEX_NAME = "index.jsonl"
ATTEMPTS_NAME = "attempts.jsonl"
LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"
VIEWS_SUFFIX = "-views.npz"
# Deflate level 6 (zlib's default): level 1 is ~1.3x faster to write but ~15 % larger.
COMPRESS_LEVEL = 6

# Field -> codec used when writing; the reader accepts every codec in _DECODERS.
DEFAULT_CODECS: dict[str, str] = {"heightmap": "xor_t", "colormap": "sub_t",
                                  "valid": "packbits"}
_IMAGE_FIELDS = ("colormap", "heightmap", "valid")
_ACTION_FIELDS = ("pose0", "pose1", "pick_pix", "place_pix", "pick_rot", "place_rot")


class DatasetError(Exception):
    """A dataset file or directory that cannot be read or written as an episode store."""


# --------------------------------------------------------------------------- labels


class ActionLabels(NamedTuple):
    """Training labels of one pick-and-place action (docs/design.md#action-labels)."""

    pick_pix: tuple[int, int]  # (row u, column v)
    place_pix: tuple[int, int]
    pick_rot: int  # always 0: theta0 is folded into the place rotation
    place_rot: int  # bin of the place-relative-to-pick rotation, 0..n_rotations-1


def pose_to_array(pose: Pose | Sequence[float] | np.ndarray) -> np.ndarray:
    """A pose ``((x, y, z), (qx, qy, qz, qw))`` or a flat 7-vector as float64 [7]."""
    try:
        if len(pose) == 2:
            flat = np.concatenate([np.asarray(pose[0], np.float64).ravel(),
                                   np.asarray(pose[1], np.float64).ravel()])
        else:
            flat = np.asarray(pose, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a pose (xyz, quat_xyzw) or 7-vector: {pose!r}") from exc
    if flat.shape != (7,) or not np.isfinite(flat).all():
        raise ValueError(f"a pose needs 7 finite numbers (xyz + quat xyzw), got {pose!r}")
    return flat


def _pixel(ws: Workspace, xyz: np.ndarray, what: str) -> tuple[int, int]:
    u, v = ws.xy_to_pixel(float(xyz[0]), float(xyz[1]))
    if not ws.in_grid(u, v):
        raise ValueError(f"{what} position ({xyz[0]:.4f}, {xyz[1]:.4f}) lies outside the "
                         f"workspace grid (cell {u}, {v} of {ws.shape})")
    return u, v


def rotation_bin(theta: float, n_rotations: int) -> int:
    """``round(theta / (2 pi / k)) mod k`` (docs/design.md#action-labels)."""
    if n_rotations < 1:
        raise ValueError(f"n_rotations must be >= 1, got {n_rotations}")
    return int(np.round(theta / (2.0 * math.pi / n_rotations))) % n_rotations


def action_labels(pose0, pose1, workspace: Workspace, n_rotations: int = 36) -> ActionLabels:
    """Pixels and rotation bins of a demo action, with the grid's cell-containing convention.

    Rotation (docs/design.md#action-labels): theta0 = -yaw(pose0),
    theta1 = -yaw(pose1) - theta0, then theta0 := 0, so the place bin encodes the place yaw
    *relative* to the pick yaw and the pick bin is always 0 (suction). Raises ``ValueError``
    for a pose off the grid.
    """
    p0, p1 = pose_to_array(pose0), pose_to_array(pose1)
    theta0 = -yaw_of(p0[3:])
    theta1 = -yaw_of(p1[3:]) - theta0
    return ActionLabels(_pixel(workspace, p0, "pick"), _pixel(workspace, p1, "place"), 0,
                        rotation_bin(theta1, n_rotations))


def labels_to_poses(pick_pix: Sequence[int], place_pix: Sequence[int], place_rot: int,
                    workspace: Workspace, heightmap: np.ndarray | None = None,
                    n_rotations: int = 36) -> tuple[Pose, Pose]:
    """Inverse of :func:`action_labels`: cell centres, z from ``heightmap`` (or z_min).

    The pick orientation is the identity; the place yaw is ``-place_rot * 2 pi / k``
    (bin i is a -10 i degree world yaw for k = 36).
    """
    if not 0 <= int(place_rot) < n_rotations:
        raise ValueError(f"place_rot must be in [0, {n_rotations}), got {place_rot}")
    poses = []
    for (u, v), yaw in ((pick_pix, 0.0),
                        (place_pix, -int(place_rot) * 2.0 * math.pi / n_rotations)):
        u, v = int(u), int(v)
        if not workspace.in_grid(u, v):
            raise ValueError(f"pixel ({u}, {v}) lies outside the grid {workspace.shape}")
        x, y = workspace.pixel_to_xy(u, v)
        z = workspace.z_min + (float(heightmap[u, v]) if heightmap is not None else 0.0)
        poses.append(((x, y, z), quat_from_yaw(yaw)))
    return poses[0], poses[1]


# --------------------------------------------------------------------------- episode


@dataclass(eq=False)
class Episode:
    """One demonstration: T actions, T+1 observations (the last has no action)."""

    colormap: np.ndarray  # uint8 [T+1, H, W, 3]
    heightmap: np.ndarray  # float32 [T+1, H, W], metres above the table
    valid: np.ndarray  # bool [T+1, H, W], cell seen by a camera
    pose0: np.ndarray  # float64 [T, 7] pick pose, xyz + quat xyzw
    pose1: np.ndarray  # float64 [T, 7] place pose
    pick_pix: np.ndarray  # int32 [T, 2] (row u, column v)
    place_pix: np.ndarray  # int32 [T, 2]
    pick_rot: np.ndarray  # int32 [T]
    place_rot: np.ndarray  # int32 [T]
    reward: np.ndarray  # float64 [T+1]; reward[0] = 0, reward[t] = delta of action t-1
    instruction: np.ndarray  # str [T+1]; instruction of the action at step t
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_steps(self) -> int:
        """T, the number of actions."""
        return int(self.pose0.shape[0])

    def validate(self) -> None:
        """Check dtypes and shapes against each other; raise ``ValueError`` naming the field."""
        self.colormap = _expect(self.colormap, "colormap", np.uint8, 4)
        n_obs, rows, cols = self.colormap.shape[:3]
        if n_obs < 1 or self.colormap.shape[3] != 3:
            raise ValueError(f"colormap must be [T+1, H, W, 3], got {self.colormap.shape}")
        t = n_obs - 1
        self.heightmap = _expect(self.heightmap, "heightmap", np.float32, (n_obs, rows, cols))
        self.valid = _expect(self.valid, "valid", np.bool_, (n_obs, rows, cols))
        self.pose0 = _expect(self.pose0, "pose0", np.float64, (t, 7))
        self.pose1 = _expect(self.pose1, "pose1", np.float64, (t, 7))
        self.pick_pix = _expect(self.pick_pix, "pick_pix", np.int32, (t, 2))
        self.place_pix = _expect(self.place_pix, "place_pix", np.int32, (t, 2))
        self.pick_rot = _expect(self.pick_rot, "pick_rot", np.int32, (t,))
        self.place_rot = _expect(self.place_rot, "place_rot", np.int32, (t,))
        self.reward = _expect(self.reward, "reward", np.float64, (n_obs,))
        inst = np.asarray(self.instruction)
        if inst.dtype.kind not in "UO" or inst.shape != (n_obs,):
            raise ValueError(f"instruction must be {n_obs} strings, got {inst.dtype} "
                             f"{inst.shape}")
        self.instruction = inst.astype(str)
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict, got {type(self.meta).__name__}")


def _expect(a: Any, name: str, dtype: Any, shape: int | tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != dtype:
        # Integers and floats convert only when no value changes (never silently truncate).
        cast = arr.astype(dtype)
        if arr.size and not np.array_equal(cast, arr):
            raise ValueError(f"{name} must be {np.dtype(dtype).name}, got {arr.dtype} with "
                             f"values that do not convert exactly")
        arr = cast
    bad = arr.ndim != shape if isinstance(shape, int) else arr.shape != shape
    if bad:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


@dataclass(eq=False)
class Views:
    """Raw camera views of every step (``--save-views``)."""

    color: np.ndarray  # uint8 [T+1, n_cams, h, w, 3]
    depth_mm: np.ndarray  # uint16 [T+1, n_cams, h, w], millimetres, 0 = no reading

    def __post_init__(self) -> None:
        self.color = _expect(self.color, "color", np.uint8, 5)
        self.depth_mm = _expect(self.depth_mm, "depth_mm", np.uint16, self.color.shape[:4])


# --------------------------------------------------------------------------- codecs


def _encode(name: str, arr: np.ndarray, codec: str) -> tuple[str, np.ndarray]:
    if codec == "raw":
        return name, arr
    if codec == "xor_t" and arr.dtype == np.float32:
        bits = arr.view(np.uint32)
        out = bits.copy()
        out[1:] ^= bits[:-1]
        return f"{name}.xor_t", out
    if codec == "sub_t" and arr.dtype == np.uint8:
        out = arr.copy()
        out[1:] -= arr[:-1]
        return f"{name}.sub_t", out
    if codec == "packbits" and arr.dtype == np.bool_:
        return f"{name}.packbits", np.packbits(arr, axis=-1)
    raise ValueError(f"codec {codec!r} does not apply to {name} ({arr.dtype})")


def _decode(codec: str, a: np.ndarray, width: int, step: int | None) -> np.ndarray:
    """Decode a whole member, or only step ``step`` (reading steps 0..step)."""
    if codec == "raw":
        return a if step is None else a[step]
    if codec == "xor_t" and a.dtype == np.uint32:
        if step is None:
            return np.bitwise_xor.accumulate(a, axis=0).view(np.float32)
        return np.bitwise_xor.reduce(a[: step + 1], axis=0).view(np.float32)
    if codec == "sub_t" and a.dtype == np.uint8:
        if step is None:
            return np.cumsum(a, axis=0, dtype=np.uint8)
        return np.sum(a[: step + 1], axis=0, dtype=np.uint8)
    if codec == "packbits" and a.dtype == np.uint8:
        part = a if step is None else a[step]
        return np.unpackbits(part, axis=-1, count=width).astype(bool)
    raise ValueError(f"unknown codec {codec!r} for a {a.dtype} member")


# --------------------------------------------------------------------------- files


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_npz_atomic(path: Path, members: dict[str, np.ndarray]) -> int:
    """Write ``members`` as a deflated npz under a temporary name, then rename; return bytes."""
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED,
                                 compresslevel=COMPRESS_LEVEL) as zf:
                for key, arr in members.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asarray(arr),
                                                  allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        size = tmp.stat().st_size
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return size


def save_episode(path: str | os.PathLike, episode: Episode,
                 codecs: dict[str, str] | None = None) -> int:
    """Write one episode file atomically (no index); return its size in bytes."""
    codecs = dict(DEFAULT_CODECS if codecs is None else codecs)
    meta = dict(episode.meta)
    meta.setdefault("format", FORMAT_VERSION)
    meta["encoding"] = {f: codecs.get(f, "raw") for f in _IMAGE_FIELDS}
    meta["n_steps"] = episode.n_steps
    meta["total_reward"] = float(episode.reward.sum())
    members: dict[str, np.ndarray] = {}
    for name in _IMAGE_FIELDS:
        key, arr = _encode(name, getattr(episode, name), codecs.get(name, "raw"))
        members[key] = arr
    for name in (*_ACTION_FIELDS, "reward"):
        members[name] = getattr(episode, name)
    members["instruction"] = np.asarray(episode.instruction, dtype=str)
    members["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    return _write_npz_atomic(Path(path), members)


def save_views(path: str | os.PathLike, views: Views) -> int:
    """Write a views file atomically; return its size in bytes."""
    return _write_npz_atomic(Path(path), {"color": views.color, "depth_mm": views.depth_mm})


class _Npz:
    """An open npz whose every failure becomes a ``DatasetError`` naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._npz = np.load(path, allow_pickle=False)
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: file is missing") from exc
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"{path}: not a readable episode file (truncated or "
                               f"corrupt?): {exc}") from exc
        if not isinstance(self._npz, np.lib.npyio.NpzFile):
            raise DatasetError(f"{path}: not an npz archive")
        self.keys = set(self._npz.files)

    def __enter__(self) -> _Npz:
        return self

    def __exit__(self, *exc: object) -> None:
        self._npz.close()

    def get(self, key: str) -> np.ndarray:
        if key not in self.keys:
            raise DatasetError(f"{self.path}: member {key!r} is missing")
        try:
            return self._npz[key]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DatasetError(f"{self.path}: member {key!r} is corrupt: {exc}") from exc

    def member(self, field_name: str) -> tuple[str, np.ndarray]:
        """(codec, stored array) of an image field, whatever codec wrote it."""
        for key in self.keys:
            base, _, codec = key.partition(".")
            if base == field_name:
                return codec or "raw", self.get(key)
        raise DatasetError(f"{self.path}: member {field_name!r} is missing")

    def meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(str(self.get("meta")))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{self.path}: meta is not JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise DatasetError(f"{self.path}: meta is not a JSON object")
        if meta.get("format") != FORMAT_VERSION:
            raise DatasetError(f"{self.path}: format {meta.get('format')!r}, this reader "
                               f"reads {FORMAT_VERSION}")
        return meta


def _decode_image(npz: _Npz, name: str, width: int, step: int | None) -> np.ndarray:
    codec, stored = npz.member(name)
    try:
        return _decode(codec, stored, width, step)
    except (ValueError, IndexError) as exc:
        raise DatasetError(f"{npz.path}: member {name!r}: {exc}") from exc


def load_episode(path: str | os.PathLike) -> Episode:
    """Read and decode a whole episode file; ``DatasetError`` names the file on any damage."""
    path = Path(path)
    with _Npz(path) as npz:
        meta = npz.meta()
        width = int(npz.member("heightmap")[1].shape[-1])
        arrays = {name: _decode_image(npz, name, width, None) for name in _IMAGE_FIELDS}
        for name in (*_ACTION_FIELDS, "reward", "instruction"):
            arrays[name] = npz.get(name)
    try:
        return Episode(**arrays, meta=meta)
    except ValueError as exc:
        raise DatasetError(f"{path}: inconsistent episode: {exc}") from exc


def load_step(path: str | os.PathLike, t: int) -> dict[str, Any]:
    """Observation t of an episode and, when t < T, its action and labels.

    Returns ``colormap``, ``heightmap``, ``valid``, ``instruction``, ``reward`` (of the
    previous action), ``t``, ``n_steps``, and for t < T ``pose0``, ``pose1``, ``pick_pix``,
    ``place_pix``, ``pick_rot``, ``place_rot``.
    """
    path = Path(path)
    with _Npz(path) as npz:
        meta = npz.meta()
        n = int(meta.get("n_steps", -1))
        if not 0 <= t <= n:
            raise IndexError(f"{path}: step {t} outside 0..{n}")
        width = int(npz.member("heightmap")[1].shape[-1])
        out: dict[str, Any] = {name: _decode_image(npz, name, width, t)
                               for name in _IMAGE_FIELDS}
        out["instruction"] = str(npz.get("instruction")[t])
        out["reward"] = float(npz.get("reward")[t])
        if t < n:
            for name in _ACTION_FIELDS:
                out[name] = npz.get(name)[t]
    out["t"], out["n_steps"] = t, n
    return out


def step_of(episode: Episode, t: int) -> dict[str, Any]:
    """The :func:`load_step` dict of step ``t`` of a decoded episode."""
    n = episode.n_steps
    if not 0 <= t <= n:
        raise IndexError(f"step {t} outside 0..{n}")
    out: dict[str, Any] = {name: getattr(episode, name)[t] for name in _IMAGE_FIELDS}
    out["instruction"] = str(episode.instruction[t])
    out["reward"] = float(episode.reward[t])
    if t < n:
        out.update({name: getattr(episode, name)[t] for name in _ACTION_FIELDS})
    out["t"], out["n_steps"] = t, n
    return out


def load_views(path: str | os.PathLike) -> Views:
    path = Path(path)
    with _Npz(path) as npz:
        color, depth = npz.get("color"), npz.get("depth_mm")
    try:
        return Views(color, depth)
    except ValueError as exc:
        raise DatasetError(f"{path}: inconsistent views: {exc}") from exc


# --------------------------------------------------------------------------- index


def _read_jsonl(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Parse a JSON-lines file; bad lines are reported in ``problems`` and skipped."""
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{path}:{lineno}: not a JSON line, skipped")
                continue
            if not isinstance(row, dict):
                problems.append(f"{path}:{lineno}: not a JSON object, skipped")
                continue
            rows.append(row)
    return rows


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line and fsync it (an index line, a calibration sample)."""
    data = (json.dumps(row, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_partial_line(path: Path) -> bool:
    """Cut a last line without a newline (a write killed midway); True if one was cut."""
    if not path.exists():
        return False
    with open(path, "rb+") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return False
        fh.truncate(data.rfind(b"\n") + 1)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def episode_dir(out: str | os.PathLike, task: str, mode: str) -> Path:
    """``{out}/{task}-{mode}``, the reference's layout."""
    return Path(out) / f"{task}-{mode}"


def episode_name(index: int, seed: int) -> str:
    return f"{index:06d}-{seed}.npz"


def _entry_problem(root: Path, entry: dict[str, Any]) -> str | None:
    """Why an index entry cannot be used (None when the cheap checks pass)."""
    name = entry.get("file")
    if not isinstance(name, str) or not isinstance(entry.get("seed"), int):
        return f"index entry {entry} lacks a file name or an integer seed"
    path = root / name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path}: listed in the index but missing"
    if "bytes" in entry and size != entry["bytes"]:
        return f"{path}: {size} bytes on disk, the index says {entry['bytes']} (truncated?)"
    return None


class EpisodeWriter:
    """The single writer of a ``{out}/{task}-{mode}`` directory.

    On open it takes an exclusive lock, removes temporary files left by a killed writer,
    cuts half-written index lines, and deletes episode files the index does not list
    (a kill between rename and index append; their seed was never recorded, so it is
    generated again).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        import fcntl  # POSIX only; imported here so readers work everywhere

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DatasetError(f"{self.root}: another writer is using this directory"
                                   ) from exc
            raise
        self.problems: list[str] = []
        self.removed: list[str] = []
        for path in self.root.glob(f"{TMP_PREFIX}*"):
            path.unlink()
            self.removed.append(path.name)
        for name in (INDEX_NAME, ATTEMPTS_NAME):
            if drop_partial_line(self.root / name):
                self.problems.append(f"{self.root / name}: cut a half-written last line")
        self.entries = _read_jsonl(self.root / INDEX_NAME, self.problems)
        self.attempts = _read_jsonl(self.root / ATTEMPTS_NAME, self.problems)
        listed = {e.get("file") for e in self.entries}
        listed |= {str(f)[: -len(".npz")] + VIEWS_SUFFIX for f in listed if f}
        for path in self.root.glob("*.npz"):
            if path.name not in listed:
                path.unlink()
                self.removed.append(path.name)
        if self.removed:
            _fsync_dir(self.root)
        self.good = [e for e in self.entries if _entry_problem(self.root, e) is None]
        self.problems += [p for e in self.entries if (p := _entry_problem(self.root, e))]
        for p in self.problems:
            log.warning(p)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._lock.closed:
            self._lock.close()  # releases the flock

    @property
    def n_episodes(self) -> int:
        """Episodes listed in the index whose files pass the cheap checks."""
        return len(self.good)

    @property
    def seeds_tried(self) -> set[int]:
        """Every seed already recorded, kept or failed."""
        return {int(r["seed"]) for r in self.entries + self.attempts
                if isinstance(r.get("seed"), int)}

    def next_seed(self, start: int, stride: int = 2) -> int:
        """The seed after the last one recorded (``start`` for a fresh directory)."""
        tried = self.seeds_tried
        return max(tried) + stride if tried else start

    def _next_index(self) -> int:
        indices = [int(e["index"]) for e in self.entries if isinstance(e.get("index"), int)]
        return max(indices) + 1 if indices else 0

    def write(self, episode: Episode, views: Views | None = None,
              codecs: dict[str, str] | None = None) -> Path:
        """Store a finished episode (``meta["seed"]`` required) and append it to the index."""
        seed = episode.meta.get("seed")
        if not isinstance(seed, int):
            raise ValueError(f"episode meta needs an integer 'seed', got {seed!r}")
        if seed in self.seeds_tried:
            raise DatasetError(f"{self.root}: seed {seed} is already recorded")
        index = self._next_index()
        name = episode_name(index, seed)
        episode.meta["episode"] = index
        if views is not None:
            save_views(self.root / (name[: -len(".npz")] + VIEWS_SUFFIX), views)
        size = save_episode(self.root / name, episode, codecs)
        entry = {"index": index, "seed": seed, "file": name, "bytes": size,
                 "n_steps": episode.n_steps, "reward": float(episode.reward.sum()),
                 "views": views is not None}
        append_jsonl(self.root / INDEX_NAME, entry)
        self.entries.append(entry)
        self.good.append(entry)
        return self.root / name

    def record_failure(self, seed: int, reward: float, reason: str) -> None:
        """Remember a seed whose demo was not kept, so a resumed run skips it."""
        if seed in self.seeds_tried:
            raise DatasetError(f"{self.root}: seed {seed} is already recorded")
        row = {"seed": int(seed), "reward": float(reward), "reason": str(reason)}
        append_jsonl(self.root / ATTEMPTS_NAME, row)
        self.attempts.append(row)


# --------------------------------------------------------------------------- reader


class Dataset:
    """Finished episodes of one ``{task}-{mode}`` directory, by index order.

    Index lines whose file is missing, truncated or unreadable are reported in
    ``problems`` (and logged) and skipped; ``verify=True`` also checks every member's CRC.
    ``n_demos`` keeps a subset: the first ``n_demos`` episodes, or a random subset drawn
    with ``rng`` (an explicit ``numpy.random.Generator``; never the global RNG).
    ``cache_episodes`` > 0 keeps that many decoded episodes in memory (least recently used
    dropped first): a training sample then costs a slice instead of a ~10 ms decode.
    """

    def __init__(self, path: str | os.PathLike, n_demos: int | None = None,
                 rng: np.random.Generator | None = None, verify: bool = False,
                 cache_episodes: int = 0) -> None:
        self.root = Path(path)
        self._cache: OrderedDict[int, Episode] = OrderedDict()
        self._cache_size = int(cache_episodes)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a dataset directory")
        self.problems: list[str] = []
        entries = _read_jsonl(self.root / INDEX_NAME, self.problems)
        seen: set[int] = set()
        good = []
        for entry in entries:
            problem = _entry_problem(self.root, entry) or self._open_problem(entry, verify)
            if problem is None and entry["seed"] in seen:
                problem = f"{self.root / entry['file']}: seed {entry['seed']} listed twice"
            if problem:
                self.problems.append(problem)
                continue
            seen.add(entry["seed"])
            good.append(entry)
        listed = {e.get("file") for e in entries}
        for path in sorted(self.root.glob("*.npz")):
            if not path.name.endswith(VIEWS_SUFFIX) and path.name not in listed:
                self.problems.append(f"{path}: not in the index, ignored")
        for p in self.problems:
            log.warning(p)
        if n_demos is not None:
            if not 0 <= n_demos <= len(good):
                raise DatasetError(f"{self.root}: n_demos={n_demos} but {len(good)} "
                                   f"episodes are readable")
            if rng is None:
                good = good[:n_demos]
            else:
                keep = np.sort(rng.choice(len(good), size=n_demos, replace=False))
                good = [good[i] for i in keep]
        self.entries: list[dict[str, Any]] = good

    def _open_problem(self, entry: dict[str, Any], verify: bool) -> str | None:
        path = self.root / entry["file"]
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip() if verify else None
        except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
            return f"{path}: not a readable episode file: {exc}"
        return f"{path}: member {bad} fails its CRC check" if bad else None

    def __len__(self) -> int:
        return len(self.entries)

    def path(self, i: int) -> Path:
        return self.root / self.entries[i]["file"]

    @property
    def seeds(self) -> list[int]:
        return [int(e["seed"]) for e in self.entries]

    def n_steps(self, i: int) -> int:
        return int(self.entries[i]["n_steps"])

    def episode(self, i: int) -> Episode:
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        episode = load_episode(self.path(i))
        if self._cache_size > 0:
            self._cache[i] = episode
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return episode

    def sample(self, i_episode: int, t: int) -> dict[str, Any]:
        """Step ``t`` of episode ``i_episode`` (see :func:`load_step`)."""
        if self._cache_size <= 0:
            return load_step(self.path(i_episode), t)
        return step_of(self.episode(i_episode), t)

    def views(self, i: int) -> Views:
        if not self.entries[i].get("views"):
            raise DatasetError(f"{self.path(i)}: stored without views")
        return load_views(str(self.path(i))[: -len(".npz")] + VIEWS_SUFFIX)

    def __iter__(self) -> Iterator[Episode]:
        return (self.episode(i) for i in range(len(self)))


def new_meta(task: str, mode: str, seed: int, workspace: Workspace,
             **extra: Any) -> dict[str, Any]:
    """The ``meta`` every generated episode carries (reward and steps are added on save)."""
    return {"format": FORMAT_VERSION, "task": task, "mode": mode, "seed": int(seed),
            "version": __version__, "pixel_size": workspace.pixel_size,
            "bounds": workspace.bounds.tolist(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
