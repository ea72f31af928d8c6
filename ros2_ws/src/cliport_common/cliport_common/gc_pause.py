"""Keep Python's garbage collector from pausing a node for hundreds of milliseconds.

A node process that has imported torch, rclpy and numpy and built a model holds ~400 000
objects that the cyclic collector tracks; every full (generation 2) collection walks all of
them with the GIL held: ~290 ms on this project's 2-core machine, during which no callback
of any thread runs. They come at unpredictable times, and they were the tail of the frames ->
``PickPlace`` goal latency (bench ``loop_latency``). Those start-up objects live as long as
the process, so after start-up they are moved out of the collector's sight
(:func:`gc.freeze`): later collections only walk what was allocated since. Nothing is leaked:
objects created later are collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect once, then freeze every surviving object; returns how many were frozen.

    Call it when a node has finished starting (imports done, model and publishers built).
    Calling it again later freezes what has accumulated since, which is harmless.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
