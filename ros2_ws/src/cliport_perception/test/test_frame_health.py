"""Frame health: missed frames from sequence numbers and from stamp gaps, dropped share,
stale transitions, and the rate-limited warning."""

import pytest

from cliport_perception.sources.health import FrameHealth

MS = 1_000_000
S = 1_000_000_000


def feed(health, cam, stamps_ms, seqs=None):
    for i, t in enumerate(stamps_ms):
        health.on_frame(cam, int(t * MS), None if seqs is None else seqs[i])


def test_missed_from_sequence_numbers():
    h = FrameHealth(["a"])
    feed(h, "a", [0, 33, 66, 200, 233], seqs=[10, 11, 12, 16, 17])
    assert h["a"].received == 5 and h["a"].missed == 3


def test_missed_from_stamp_gaps_at_the_camera_rate():
    h = FrameHealth(["a"])
    t = [i * 33.3 for i in range(10)]  # 30 Hz
    t += [t[-1] + 4 * 33.3]  # three frames lost
    t += [t[-1] + 33.3 * k for k in (1, 2)]
    feed(h, "a", t)
    assert h["a"].missed == 3
    assert h["a"].rate_hz == pytest.approx(30.03, abs=0.1)


def test_no_missed_frames_before_the_rate_is_known_or_for_jitter():
    h = FrameHealth(["a"])
    feed(h, "a", [0, 100, 133])  # too few intervals to know the period
    assert h["a"].missed == 0
    h = FrameHealth(["a"])
    feed(h, "a", [0, 33, 66, 100, 133, 180, 200, 240])  # jitter below 1.5 periods
    assert h["a"].missed == 0


def test_repeated_and_out_of_order_stamps_are_not_frames():
    h = FrameHealth(["a"])
    feed(h, "a", [0, 33, 33, 20, 66])
    assert h["a"].received == 3


def test_stale_events_count_transitions():
    h = FrameHealth(["a", "b"])
    for stale in (False, True, True, False, True):
        h.set_stale("a", stale)
    assert h["a"].stale_events == 2 and h["a"].stale and h["b"].stale_events == 0


def test_diagnostic_values():
    h = FrameHealth(["a"])
    feed(h, "a", [0, 100, 200, 300, 400, 500], seqs=[1, 2, 3, 4, 5, 7])
    h.set_dropped("a", 2)
    assert h.values("a") == {"received_frames": "6", "missed_frames": "1",
                             "dropped_frames": "2", "stale_events": "0",
                             "frame_rate_hz": "10.0"}


def test_warning_is_rate_limited_and_reports_each_window_once():
    h = FrameHealth(["front", "left"], warn_period_s=5.0)
    assert h.warning(0) is None  # opens the first window
    feed(h, "front", [0, 1000, 2000, 3000, 4000], seqs=[1, 2, 3, 4, 8])
    h.set_stale("left", True)
    assert h.warning(4 * S) is None  # window still open
    msg = h.warning(5 * S)
    assert msg == "camera frames in the last 5.0 s: front: 3 frames missed; left: stale"
    assert h.warning(6 * S) is None  # rate-limited
    h.set_stale("left", False)
    assert h.warning(10 * S) is None  # nothing new in the second window


def test_warning_on_a_large_dropped_share_only():
    h = FrameHealth(["a"], warn_period_s=1.0, max_drop_fraction=0.5)
    h.warning(0)
    feed(h, "a", [100, 200, 300, 400], seqs=[1, 2, 3, 4])
    h.set_dropped("a", 2)  # half: normal for latest-only
    assert h.warning(1 * S) is None
    feed(h, "a", [1100, 1200, 1300, 1400], seqs=[5, 6, 7, 8])
    h.set_dropped("a", 5)  # 3 of 4
    assert "a: 3 of 4 frames dropped unfused" in h.warning(2 * S)


def test_bad_arguments():
    with pytest.raises(ValueError, match="warn_period_s"):
        FrameHealth(["a"], warn_period_s=0)
    with pytest.raises(ValueError, match="gap_factor"):
        FrameHealth(["a"], gap_factor=1.0)
    with pytest.raises(KeyError, match="unknown camera 'b'"):
        FrameHealth(["a"]).on_frame("b", 0)
