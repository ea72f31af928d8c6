"""FrameSync's dropped count: colour frames that arrived but never went into a used pair."""

from cliport_perception.sync import FrameSync

MS = 1_000_000


def feed(sync, t_ms, depth=True):
    sync.add_color("cam", t_ms * MS, f"c{t_ms}")
    if depth:
        sync.add_depth("cam", t_ms * MS, f"d{t_ms}")
    sync.add_info("cam", "K")


def use(sync, now_ms):
    status = sync.poll(now_ms * MS)
    sync.mark_used(status)
    return status.pairs["cam"]


def test_every_frame_used_drops_nothing():
    sync = FrameSync(["cam"], 0.01, 0.5)
    for t in (100, 133, 166, 200):
        feed(sync, t)
        use(sync, t + 1)
    assert sync.dropped["cam"] == 0


def test_skipped_frames_are_dropped_once():
    sync = FrameSync(["cam"], 0.01, 0.5)
    for t in (100, 133, 166):
        feed(sync, t)
    pair = use(sync, 167)
    assert pair.color == "c166" and pair.color_stamp_ns == 166 * MS
    assert sync.dropped["cam"] == 2  # 100 and 133 never used
    feed(sync, 200)
    use(sync, 201)
    assert sync.dropped["cam"] == 2  # nothing skipped since, nothing counted twice


def test_frames_pushed_out_of_the_history_are_counted_once():
    sync = FrameSync(["cam"], 0.01, 0.5, history=2)
    for t in (100, 133, 166, 200):  # 100 and 133 pushed out unused
        feed(sync, t)
    assert sync.dropped["cam"] == 2
    use(sync, 201)  # 166 skipped over
    assert sync.dropped["cam"] == 3


def test_a_colour_frame_without_depth_is_dropped_when_a_later_pair_is_used():
    sync = FrameSync(["cam"], 0.01, 0.5)
    feed(sync, 100)
    feed(sync, 133, depth=False)
    feed(sync, 166)
    assert use(sync, 167).color == "c166"
    assert sync.dropped["cam"] == 2
