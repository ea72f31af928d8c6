"""The episode store of one ``{out}/{task}-{mode}`` directory: its index, its single
writer (:class:`EpisodeWriter`) and a random-access reader (:class:`Dataset`).

Each finished episode file (:mod:`cliport_sim.episode`) is recorded by one fsync'd line in
``index.jsonl``; oracle failures go to ``attempts.jsonl``. Why: a killed generator resumes
without retrying or duplicating a seed, and a reader never sees a half-written episode.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from cliport_perception.workspace import Workspace
from cliport_sim.episode import (
    FORMAT_VERSION,
    TMP_PREFIX,
    DatasetError,
    Episode,
    Views,
    fsync_dir,
    load_episode,
    load_step,
    load_views,
    save_episode,
    save_views,
    step_of,
)

try:
    __version__ = metadata.version("cliport_sim")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.1.0"

log = logging.getLogger(__name__)

INDEX_NAME = "index.jsonl"
ATTEMPTS_NAME = "attempts.jsonl"
LOCK_NAME = ".lock"
VIEWS_SUFFIX = "-views.npz"


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
            fsync_dir(self.root)
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
