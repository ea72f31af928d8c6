"""freeze_startup_objects: start-up objects leave the collector's sight; later garbage is
still collected."""

import gc
import weakref

import pytest

from cliport_common.gc_pause import freeze_startup_objects


class _Node:
    pass


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # leave this test process's collector as it was


def test_live_objects_are_frozen_and_later_cycles_are_still_collected(unfreeze):
    alive = [_Node() for _ in range(100)]
    frozen = freeze_startup_objects()
    assert frozen >= len(alive) and gc.get_freeze_count() == frozen
    assert not any(gc.is_tracked(o) and o in gc.get_objects() for o in alive[:3])

    later = _Node()
    later.self = later  # a reference cycle: only the cyclic collector frees it
    gone = []
    weakref.finalize(later, gone.append, True)
    del later
    gc.collect()
    assert gone == [True]


def test_freezing_again_adds_what_accumulated(unfreeze):
    first = freeze_startup_objects()
    more = [_Node() for _ in range(50)]
    assert freeze_startup_objects() >= first + len(more)
