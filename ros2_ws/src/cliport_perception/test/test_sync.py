import pytest

from cliport_perception.sync import FrameSync

MS = 1_000_000


def make(**kw):
    args = dict(cameras=["front", "left"], slop_s=0.01, stale_after_s=0.5)
    args.update(kw)
    return FrameSync(**args)


def feed(sync, cam, t_ms, depth_offset_ms=0, info=True):
    sync.add_color(cam, t_ms * MS, f"c{t_ms}")
    sync.add_depth(cam, (t_ms + depth_offset_ms) * MS, f"d{t_ms}")
    if info:
        sync.add_info(cam, "K")


def test_pairs_within_slop_and_reports_missing():
    sync = make()
    feed(sync, "front", 100, depth_offset_ms=3)
    status = sync.poll(110 * MS)
    assert status.missing == ["left"] and not status.complete
    pair = status.pairs["front"]
    assert (pair.color, pair.depth, pair.stamp_ns) == ("c100", "d100", 100 * MS)


def test_no_pair_outside_slop():
    sync = make(cameras=["front"])
    feed(sync, "front", 100, depth_offset_ms=30)
    assert sync.poll(140 * MS).missing == ["front"]


def test_latest_only_and_each_set_once():
    sync = make(cameras=["front"])
    for t in (100, 133, 166, 200):
        feed(sync, "front", t)
    status = sync.poll(201 * MS)
    assert status.complete and status.pairs["front"].color == "c200"
    sync.mark_used(status)
    assert sync.poll(202 * MS) is None  # nothing new: no duplicate heightmap
    feed(sync, "front", 233)
    assert sync.poll(234 * MS).pairs["front"].color == "c233"


def test_frozen_camera_is_stale():
    sync = make()
    feed(sync, "front", 100)
    feed(sync, "left", 100)
    feed(sync, "front", 1000)
    status = sync.poll(1001 * MS)
    assert status.stale == ["left"] and "left" not in status.pairs


def test_dropped_frames_are_counted():
    sync = make(cameras=["front"], history=2)
    for t in (100, 133, 166, 200):
        feed(sync, "front", t)
    assert sync.dropped["front"] >= 2


def test_out_of_order_frames_are_ignored():
    sync = make(cameras=["front"])
    feed(sync, "front", 200)
    feed(sync, "front", 100)
    assert sync.poll(201 * MS).pairs["front"].color == "c200"


def test_bad_setup_and_unknown_camera():
    with pytest.raises(ValueError, match="at least one"):
        make(cameras=[])
    with pytest.raises(ValueError, match="unique"):
        make(cameras=["a", "a"])
    with pytest.raises(KeyError, match="unknown camera 'right'"):
        make().add_color("right", 0, None)


def test_a_set_with_every_camera_new_is_ready_at_once_a_partial_one_waits():
    wait = 33 * MS
    sync = make()
    feed(sync, "front", 100)
    feed(sync, "left", 101)
    assert sync.poll(102 * MS, wait, all_new_only=True).complete  # both new: no wait
    sync.mark_used(sync.poll(102 * MS))
    feed(sync, "front", 133)  # left's next frame is still on its way
    assert sync.poll(140 * MS, wait) is None  # partly new since 140: held back
    assert sync.poll(150 * MS, wait, all_new_only=True) is None
    feed(sync, "left", 134)
    status = sync.poll(151 * MS, wait, all_new_only=True)
    assert status.pairs["front"].stamp_ns == 133 * MS and status.pairs["left"].stamp_ns == 134 * MS
    sync.mark_used(status)
    feed(sync, "front", 166)  # left has stopped: fused without it once front waited here
    assert sync.poll(300 * MS, wait) is None  # however old the frame, the wait starts here
    assert sync.poll(320 * MS, wait, all_new_only=True) is None
    assert sync.poll(333 * MS, wait).pairs["front"].stamp_ns == 166 * MS
    assert sync.poll(334 * MS).pairs["front"].stamp_ns == 166 * MS  # no wait: as before


def test_the_on_arrival_check_does_not_report_stale_cameras():
    sync = make()
    feed(sync, "front", 100)
    assert sync.poll(110 * MS, all_new_only=True) is None  # left missing: for the timer
    assert sync.poll(110 * MS).missing == ["left"]
