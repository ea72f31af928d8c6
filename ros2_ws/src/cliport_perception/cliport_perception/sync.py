"""Approximate-time pairing of colour, depth and camera info, per camera, latest only.

``message_filters`` is not installable from PyPI, and the perception node needs
something slightly different anyway: for every camera keep only the newest few colour and
depth frames (no backlog: a slow fusion step skips frames instead of falling behind), pair
the newest colour/depth whose stamps differ by at most ``slop``, and tell which cameras
are *stale* (their newest pair is older than ``stale_after``) or *missing* (never paired).
``dropped`` counts, per camera, the colour frames that arrived but never went into a used
pair: pushed out of the short history, or skipped over because a newer pair was used.
Payloads are opaque; stamps are integer nanoseconds; "now" is passed in, so the logic is
deterministic and testable without ROS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pair:
    """A colour and a depth frame of one camera taken at (about) the same time."""

    camera: str
    stamp_ns: int  # the older of the two stamps
    color: Any
    depth: Any
    info: Any
    color_stamp_ns: int = -1  # the colour frame's own stamp


@dataclass
class SyncStatus:
    pairs: dict[str, Pair] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.stale and not self.missing


class FrameSync:
    def __init__(self, cameras: list[str], slop_s: float, stale_after_s: float,
                 history: int = 4) -> None:
        if not cameras:
            raise ValueError("at least one camera is needed")
        if len(set(cameras)) != len(cameras):
            raise ValueError(f"camera names must be unique: {cameras}")
        if slop_s < 0 or stale_after_s <= 0:
            raise ValueError("slop must be >= 0 and stale_after > 0")
        self.cameras = list(cameras)
        self.slop_ns = int(slop_s * 1e9)
        self.stale_ns = int(stale_after_s * 1e9)
        self._color = {c: deque(maxlen=history) for c in cameras}
        self._depth = {c: deque(maxlen=history) for c in cameras}
        self._info: dict[str, Any] = {}
        self._last_used: dict[str, int] = {}
        self._last_color_used: dict[str, int] = {}
        self._partial_since: int | None = None  # when a poll first saw a partly new set
        self.dropped = dict.fromkeys(cameras, 0)  # colour frames that were never used

    def _check(self, camera: str) -> None:
        if camera not in self._color:
            raise KeyError(f"unknown camera {camera!r}; known: {self.cameras}")

    def add_color(self, camera: str, stamp_ns: int, frame: Any) -> None:
        self._push(self._color, camera, stamp_ns, frame)

    def add_depth(self, camera: str, stamp_ns: int, frame: Any) -> None:
        self._push(self._depth, camera, stamp_ns, frame)

    def add_info(self, camera: str, info: Any) -> None:
        self._check(camera)
        self._info[camera] = info

    def _push(self, store, camera: str, stamp_ns: int, frame: Any) -> None:
        self._check(camera)
        queue = store[camera]
        if queue and stamp_ns <= queue[-1][0]:
            return  # out of order or repeated: keep the newest only
        if (store is self._color and len(queue) == queue.maxlen
                and queue[0][0] > self._last_color_used.get(camera, -1)):
            self.dropped[camera] += 1  # pushed out before any pair used it
        queue.append((stamp_ns, frame))

    def latest_pair(self, camera: str) -> Pair | None:
        """Newest colour/depth pair within ``slop`` (and with camera info) for one camera."""
        self._check(camera)
        info = self._info.get(camera)
        if info is None:
            return None
        best = None
        for cs, color in reversed(self._color[camera]):
            for ds, depth in reversed(self._depth[camera]):
                if abs(cs - ds) <= self.slop_ns:
                    cand = Pair(camera, min(cs, ds), color, depth, info, cs)
                    if best is None or cand.stamp_ns > best.stamp_ns:
                        best = cand
                    break
        return best

    def poll(self, now_ns: int, partial_wait_ns: int = 0,
             all_new_only: bool = False) -> SyncStatus | None:
        """The newest pair of every camera, or None if nothing new since the last poll.

        A set counts as new when any camera has a pair newer than the one last returned.
        With ``partial_wait_ns`` > 0 a set where only *some* cameras are new is held back
        until ``partial_wait_ns`` after a poll first saw it so (``now_ns`` is the caller's
        clock, so this is time waited here, not the frames' age): the others' frames are
        probably on their way, and fusing now would use them one set late. A set where every
        camera is new is returned at once. ``all_new_only`` returns only such a set (the
        node's on-arrival check; its timer reports stale and missing cameras). Stale and
        missing cameras are reported; the caller decides whether to fuse.
        """
        status = SyncStatus()
        fresh = 0
        for cam in self.cameras:
            pair = self.latest_pair(cam)
            if pair is None:
                status.missing.append(cam)
                continue
            if now_ns - pair.stamp_ns > self.stale_ns:
                status.stale.append(cam)
                continue
            status.pairs[cam] = pair
            if pair.stamp_ns > self._last_used.get(cam, -1):
                fresh += 1
        if status.stale or status.missing:
            return None if all_new_only else status
        if not fresh:
            return None
        if fresh < len(self.cameras):
            if self._partial_since is None:
                self._partial_since = now_ns
            if all_new_only or (partial_wait_ns > 0
                                 and now_ns - self._partial_since < partial_wait_ns):
                return None
        return status

    def mark_used(self, status: SyncStatus) -> None:
        """Record that ``status``'s pairs were used; colour frames skipped over are dropped."""
        self._partial_since = None
        for cam, pair in status.pairs.items():
            self._last_used[cam] = pair.stamp_ns
            before = self._last_color_used.get(cam, -1)
            if pair.color_stamp_ns > before:
                self.dropped[cam] += sum(1 for cs, _ in self._color[cam]
                                         if before < cs < pair.color_stamp_ns)
                self._last_color_used[cam] = pair.color_stamp_ns
