"""Shared timing helper for the benchmarks in this directory.

Medians rather than means: a single GC pause or scheduler hiccup should not move a benchmark
that is compared across runs and machines.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` timed calls.

    ``warmup`` untimed calls run first so one-off costs (lazy imports, allocator growth, caches)
    do not land in the measurement.  Uses ``time.perf_counter``, the highest-resolution
    monotonic clock available.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
