"""One demo episode in memory (:class:`Episode`, :class:`Views`) and in its file.

Why this layout (docs/design.md#fused-storage): an episode stores what training reads,
already fused (the 320x160 colormap, heightmap in metres above the table, bit-exact, and
seen-mask per step), the oracle's poses and the labels derived from them, rewards and
instructions, instead of the raw views to re-fuse at every sample. Raw views are optional,
in a separate ``<episode>-views.npz``.

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

Writes are atomic: a temporary name in the same directory, fsync, ``os.replace``, fsync of
the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"
# Deflate level 6 (zlib's default): level 1 is ~1.3x faster to write but ~15 % larger.
COMPRESS_LEVEL = 6

# Field -> codec used when writing; the reader accepts every codec in _decode.
DEFAULT_CODECS: dict[str, str] = {"heightmap": "xor_t", "colormap": "sub_t",
                                  "valid": "packbits"}
_IMAGE_FIELDS = ("colormap", "heightmap", "valid")
_ACTION_FIELDS = ("pose0", "pose1", "pick_pix", "place_pix", "pick_rot", "place_rot")


class DatasetError(Exception):
    """A dataset file or directory that cannot be read or written as an episode store."""


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


def fsync_dir(path: Path) -> None:
    """fsync a directory, so a rename or unlink in it survives a power loss."""
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
    fsync_dir(path.parent)
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
