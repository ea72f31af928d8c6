"""Per-camera frame health: frames missed, frames dropped unfused, stale periods.

Three failures, counted apart because each has a different fix:

* **missed**: frames that never reached us. Counted from gaps in the frame sequence
  numbers where a source has them (pyrealsense2), otherwise from gaps in the stamps
  against the camera's own recent frame period (median of the last intervals), as for
  ROS ``Image`` topics. Cause: bandwidth, QoS queue depth, USB.
* **dropped**: frames that arrived but never went into a heightmap because a newer one
  replaced them first. Latest-only is deliberate (no backlog), so a few are normal; a
  large share means fusion is slower than the camera.
* **stale**: the camera's newest frame is too old (frozen or unplugged camera);
  ``stale_events`` counts fresh -> stale transitions.

:meth:`FrameHealth.warning` turns the changes of one window into one log line, at most
once per ``warn_period_s``, so a flaky camera cannot flood the log. Time is passed in
(integer nanoseconds), so everything here is deterministic and testable without ROS.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field


@dataclass
class CameraHealth:
    """Counters of one camera since the source started."""

    received: int = 0
    missed: int = 0
    dropped: int = 0
    stale: bool = False
    stale_events: int = 0
    last_stamp_ns: int | None = None
    last_seq: int | None = None
    intervals_ns: deque[int] = field(default_factory=lambda: deque(maxlen=15))

    @property
    def period_ns(self) -> float | None:
        """The camera's frame period (median of recent intervals); None until known."""
        if len(self.intervals_ns) < FrameHealth.MIN_INTERVALS:
            return None
        return float(statistics.median(self.intervals_ns))

    @property
    def rate_hz(self) -> float:
        period = self.period_ns
        return 1e9 / period if period else 0.0


class FrameHealth:
    """Frame counters of N cameras and a rate-limited summary of what went wrong."""

    MIN_INTERVALS = 4  # intervals needed before stamp gaps count as missed frames

    def __init__(self, cameras: list[str], warn_period_s: float = 5.0, gap_factor: float = 1.5,
                 max_drop_fraction: float = 0.5) -> None:
        if warn_period_s <= 0:
            raise ValueError(f"warn_period_s must be > 0, got {warn_period_s}")
        if gap_factor <= 1.0:
            raise ValueError(f"gap_factor must be > 1, got {gap_factor}")
        if not 0.0 <= max_drop_fraction <= 1.0:
            raise ValueError(f"max_drop_fraction must be in [0, 1], got {max_drop_fraction}")
        self.cameras = list(cameras)
        self.warn_period_ns = int(warn_period_s * 1e9)
        self.gap_factor = gap_factor
        self.max_drop_fraction = max_drop_fraction
        self._cams = {c: CameraHealth() for c in self.cameras}
        self._window_start: int | None = None
        self._snapshot = self._counts()

    def __getitem__(self, camera: str) -> CameraHealth:
        try:
            return self._cams[camera]
        except KeyError:
            raise KeyError(f"unknown camera {camera!r}; known: {self.cameras}") from None

    def on_frame(self, camera: str, stamp_ns: int, seq: int | None = None) -> None:
        """A new frame arrived (stamps in ns; ``seq`` = the source's frame counter, if any)."""
        cam = self[camera]
        if cam.last_stamp_ns is not None and stamp_ns <= cam.last_stamp_ns:
            return  # repeated or out of order: not a new frame
        cam.received += 1
        if seq is not None and cam.last_seq is not None and seq > cam.last_seq:
            cam.missed += seq - cam.last_seq - 1
        elif seq is None and cam.last_stamp_ns is not None:
            interval = stamp_ns - cam.last_stamp_ns
            period = cam.period_ns
            if period is not None and interval > self.gap_factor * period:
                cam.missed += max(0, round(interval / period) - 1)
        if cam.last_stamp_ns is not None:
            cam.intervals_ns.append(stamp_ns - cam.last_stamp_ns)
        cam.last_stamp_ns = stamp_ns
        if seq is not None:
            cam.last_seq = seq

    def set_dropped(self, camera: str, total: int) -> None:
        """The source's running total of frames dropped unfused."""
        self[camera].dropped = int(total)

    def add_dropped(self, camera: str, count: int = 1) -> None:
        self[camera].dropped += int(count)

    def set_stale(self, camera: str, stale: bool) -> None:
        cam = self[camera]
        if stale and not cam.stale:
            cam.stale_events += 1
        cam.stale = bool(stale)

    def values(self, camera: str) -> dict[str, str]:
        """Counters of one camera as strings (``diagnostic_msgs/KeyValue`` pairs)."""
        cam = self[camera]
        return {"received_frames": str(cam.received), "missed_frames": str(cam.missed),
                "dropped_frames": str(cam.dropped), "stale_events": str(cam.stale_events),
                "frame_rate_hz": f"{cam.rate_hz:.1f}"}

    def _counts(self) -> dict[str, tuple[int, int, int]]:
        return {n: (c.received, c.missed, c.dropped) for n, c in self._cams.items()}

    def warning(self, now_ns: int) -> str | None:
        """One line about the last window (>= ``warn_period_s``) if something went wrong.

        Reported: stale cameras, any missed frames, and a dropped share above
        ``max_drop_fraction`` of the frames received in the window. Returns None while
        the window is open or when all is well.
        """
        if self._window_start is None:
            self._window_start = now_ns
            return None
        if now_ns - self._window_start < self.warn_period_ns:
            return None
        window_s = (now_ns - self._window_start) / 1e9
        counts = self._counts()
        parts = []
        for name, cam in self._cams.items():
            received, missed, dropped = (a - b for a, b in zip(counts[name],
                                                               self._snapshot[name],
                                                               strict=True))
            issues = []
            if cam.stale:
                issues.append("stale")
            if missed > 0:
                issues.append(f"{missed} frames missed")
            if received > 0 and dropped > self.max_drop_fraction * received:
                issues.append(f"{dropped} of {received} frames dropped unfused "
                              f"(fusion slower than the camera)")
            if issues:
                parts.append(f"{name}: {', '.join(issues)}")
        self._window_start = now_ns
        self._snapshot = counts
        if not parts:
            return None
        return f"camera frames in the last {window_s:.1f} s: " + "; ".join(parts)
