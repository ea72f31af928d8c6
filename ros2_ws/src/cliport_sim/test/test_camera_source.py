"""The simulator behind perception's RGB-D source interface."""

import numpy as np
import pytest

from cliport_perception.fusion import Fuser
from cliport_perception.sources import SourceError, available_sources, make_source
from cliport_perception.workspace import Workspace
from cliport_sim.camera_source import SimCameraSource
from cliport_sim.environment import Environment, SimConfig
from cliport_sim.tasks import make_task


def test_sim_source_by_name_renders_three_views_that_fuse():
    assert "sim" in available_sources()
    src = make_source("sim", {"task": "put-block-in-bowl-seen-colors", "seed": 3})
    with pytest.raises(SourceError, match="not connected"):
        src.get_frames()
    with src:
        frames = src.get_frames()
        assert [f.camera.frame_id for f in frames] == [
            "front_color_optical_frame", "left_color_optical_frame", "right_color_optical_frame"]
        assert all(f.color.shape == (480, 640, 3) and f.depth.dtype == np.float32
                   for f in frames)
        maps = Fuser(Workspace(), floor_tolerance=0.002).fuse(frames)
        assert maps.valid.mean() > 0.9
        assert maps.heightmap.max() > 0.03  # blocks and bowls stand on the table
    assert not src.is_connected


def test_sim_source_errors_are_clear():
    with pytest.raises(SourceError, match="unknown task"):
        make_source("sim", {"task": "no-such-task"}).connect()
    with pytest.raises(SourceError, match="unknown cameras"):
        make_source("sim", {"cameras": ["front", "top"]}).connect()


def test_sim_source_on_an_existing_environment_reads_a_camera_subset():
    with Environment(make_task("put-block-in-bowl-seen-colors"), SimConfig(observe=False)) as env:
        env.reset(0)
        src = SimCameraSource.from_environment(env, ["left"])
        with src:
            (frame,) = src.get_frames()
        assert frame.camera.frame_id == "left_color_optical_frame"
        assert env.client >= 0  # the caller still owns the world
