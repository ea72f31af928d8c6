import numpy as np
import pytest

from cliport_perception.heightmap_msg import HeightmapFrame, from_msg, to_msg
from cliport_perception.workspace import Workspace

WS = Workspace()


def frame(valid=True):
    rng = np.random.default_rng(0)
    return HeightmapFrame(
        colormap=rng.integers(0, 256, (320, 160, 3), dtype=np.uint8),
        heightmap=rng.uniform(0, 0.28, (320, 160)).astype(np.float32),
        valid=(rng.random((320, 160)) > 0.5) if valid else None,
        workspace=WS, frame_id="base", stamp_ns=12_000_000_007, camera_frames=["a", "b"])


@pytest.mark.parametrize("valid", [True, False])
def test_round_trip(valid):
    want = frame(valid)
    msg = to_msg(want)
    assert (msg.heightmap.height, msg.heightmap.width) == (320, 160)
    assert msg.header.stamp.sec == 12 and msg.header.stamp.nanosec == 7
    got = from_msg(msg)
    np.testing.assert_array_equal(got.heightmap, want.heightmap)
    np.testing.assert_array_equal(got.colormap, want.colormap)
    if valid:
        np.testing.assert_array_equal(got.valid, want.valid)
    else:
        assert got.valid is None
    assert (got.workspace, got.stamp_ns, got.camera_frames) == (WS, 12_000_000_007, ["a", "b"])


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="heightmap shape"):
        HeightmapFrame(colormap=np.zeros((320, 160, 3), np.uint8),
                       heightmap=np.zeros((160, 320), np.float32), workspace=WS)


def test_wrong_encoding_and_inconsistent_grid_rejected():
    msg = to_msg(frame())
    msg.heightmap.encoding = "16UC1"
    with pytest.raises(ValueError, match="heightmap must be 32FC1"):
        from_msg(msg)
    msg = to_msg(frame())
    msg.pixel_size = 0.005
    with pytest.raises(ValueError, match="workspace grid"):
        from_msg(msg)
