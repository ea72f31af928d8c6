"""Benchmark ``image``: numpy Image conversion vs the naive approach, with field checks on.

Why: perception publishes a 640x480 colour frame and a 640x480 float heightmap every cycle.
With ``ROS_PYTHON_CHECK_FIELDS=1`` (what ROS 2 test/debug setups enable) the naive
``msg.data = arr.tobytes()`` triggers per-element validation in Python, costing tens of
milliseconds per frame; decoding with a per-row Python loop adds more.  This benchmark keeps the
fast path honest.

Measured: one encode + decode round trip of a 640x480 ``rgb8`` frame and a 640x480 ``32FC1``
frame; median milliseconds; ``ratio = baseline / ours``.
"""

from __future__ import annotations

import os

# Must happen before sensor_msgs is imported: the generated message module reads it at import.
os.environ["ROS_PYTHON_CHECK_FIELDS"] = "1"

from typing import Any

import numpy as np
from _timing import median_time
from sensor_msgs.msg import Image

from cliport_perception.image_conversion import ENCODINGS, array_to_image, image_to_array

HEIGHT, WIDTH = 480, 640


def naive_encode(arr: np.ndarray, encoding: str) -> Image:
    """What code without a converter typically does: assign ``bytes`` to ``data``."""
    dtype, channels = ENCODINGS[encoding]
    msg = Image()
    msg.height, msg.width = arr.shape[0], arr.shape[1]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = arr.shape[1] * channels * dtype.itemsize
    msg.data = arr.tobytes()
    return msg


def naive_decode(msg: Image) -> np.ndarray:
    """Row-by-row Python decode, the usual hand-written replacement for cv_bridge."""
    dtype, channels = ENCODINGS[msg.encoding]
    row_bytes = msg.width * channels * dtype.itemsize
    data = msg.data
    rows = []
    for r in range(msg.height):
        start = r * msg.step
        rows.append(np.frombuffer(bytes(data[start : start + row_bytes]), dtype=dtype))
    out = np.stack(rows)
    return out if channels == 1 else out.reshape(msg.height, msg.width, channels)


def _frames() -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    depth = rng.uniform(0.0, 0.3, size=(HEIGHT, WIDTH)).astype(np.float32)
    return [(rgb, "rgb8"), (depth, "32FC1")]


def run(quick: bool) -> dict[str, Any]:
    """Time both implementations; print per-frame medians; return the runner's result dict."""
    if not Image()._check_fields:
        raise RuntimeError(
            "sensor_msgs was imported before ROS_PYTHON_CHECK_FIELDS=1 was set; the benchmark "
            "would not measure the checked setter"
        )
    frames = _frames()
    for arr, enc in frames:  # both paths must agree before timing means anything
        np.testing.assert_array_equal(image_to_array(array_to_image(arr, enc)), arr)
        np.testing.assert_array_equal(naive_decode(naive_encode(arr, enc)), arr)

    ours_repeats, base_repeats = (30, 5) if quick else (200, 15)

    def ours() -> None:
        for arr, enc in frames:
            image_to_array(array_to_image(arr, enc))

    def baseline() -> None:
        for arr, enc in frames:
            naive_decode(naive_encode(arr, enc))

    for arr, enc in frames:
        o_enc = median_time(lambda a=arr, e=enc: array_to_image(a, e), ours_repeats, 2)
        msg = array_to_image(arr, enc)
        o_dec = median_time(lambda m=msg: image_to_array(m), ours_repeats, 2)
        b_enc = median_time(lambda a=arr, e=enc: naive_encode(a, e), base_repeats, 1)
        b_dec = median_time(lambda m=msg: naive_decode(m), base_repeats, 1)
        print(
            f"  {WIDTH}x{HEIGHT} {enc:5s}: encode ours {o_enc * 1e3:8.3f} ms  "
            f"naive {b_enc * 1e3:8.2f} ms | decode ours {o_dec * 1e3:8.3f} ms  "
            f"row-loop {b_dec * 1e3:8.2f} ms",
            flush=True,
        )

    ours_ms = median_time(ours, ours_repeats, 2) * 1e3
    base_ms = median_time(baseline, base_repeats, 1) * 1e3
    print(f"  round trip rgb8+32FC1: ours {ours_ms:.3f} ms, baseline {base_ms:.2f} ms", flush=True)
    return {
        "name": "image",
        "ours": round(ours_ms, 4),
        "baseline": round(base_ms, 3),
        "unit": "ms",
        "ratio": round(base_ms / ours_ms, 2),
    }
