"""The sample file survives a crash mid-write and rejects real corruption."""

import numpy as np
import pytest

from cliport_calibration import samples, transforms
from cliport_calibration.handeye import Sample


def sample(i):
    return Sample(transforms.make(np.radians([i, 2 * i, 0.0]), (0.4, 0.01 * i, 0.3)),
                  transforms.make(np.radians([180.0, i, 0.0]), (0.0, 0.0, 0.8)), stamp_ns=i,
                  n_corners=12, reprojection_rms_px=0.3)


def test_append_and_load_round_trip(tmp_path):
    path = tmp_path / "s.jsonl"
    for i in range(3):
        assert samples.append(path, sample(i)) == i + 1
    loaded = samples.load(path)
    assert [s.stamp_ns for s in loaded] == [0, 1, 2]
    assert np.array_equal(loaded[2].T_base_effector, sample(2).T_base_effector)


def test_a_torn_last_line_is_skipped_and_appending_continues(tmp_path):
    path = tmp_path / "s.jsonl"
    samples.append(path, sample(0))
    with path.open("a") as f:
        f.write(samples.to_json(sample(1))[:40])  # the crash
    with pytest.warns(UserWarning, match="torn last line"):
        assert len(samples.load(path)) == 1
    assert samples.append(path, sample(2)) == 2  # the torn line is dropped, not kept
    assert [s.stamp_ns for s in samples.load(path)] == [0, 2]


def test_a_corrupt_middle_line_is_an_error_naming_it(tmp_path):
    path = tmp_path / "s.jsonl"
    samples.append(path, sample(0))
    with path.open("a") as f:
        f.write("garbage\n")
    samples.append(path, sample(1))
    with pytest.raises(samples.SampleFileError, match=r"s.jsonl:2"):
        samples.load(path)
