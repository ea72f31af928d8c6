"""The twin's world without ROS: its camera runs on simulated time, and the in-process
server gets the parameters real.yaml's files give the real one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cliport_common.config import ConfigError
from cliport_sim.twin_world import TwinWorld, load_twin_config

pytestmark = pytest.mark.timeout(120)


def test_the_camera_runs_at_its_rate_of_simulated_time():
    frames = []
    cfg = dataclasses.replace(load_twin_config(), camera_fps=10.0, idle_camera_rate=0.0,
                              real_time_factor=0.0)
    world = TwinWorld(cfg, on_frame=lambda f, stamp: frames.append((f, stamp)))
    try:
        assert world.hz == 240 and world.steps_per_frame == 24
        n0, t0 = len(frames), world.sim_time
        world.call(world.env.step_simulation, 240)  # one simulated second
        assert world.sim_time - t0 == pytest.approx(1.0)
        assert len(frames) - n0 == 10
        frame, stamp = frames[-1]
        assert frame.depth.dtype == np.uint16 and frame.color.shape == (480, 640, 3)
        assert frame.camera.frame_id == "camera_color_optical_frame" and stamp > 0
        names, q, v = world.call(world.joint_state)
        assert names[0] == "fr3_joint1" and names[-1] == "fr3_finger_joint2"
        assert len(q) == len(v) == 9
        assert world.call(world.held_objects) == []
    finally:
        world.close()


def test_the_server_gets_real_yamls_parameters():
    from cliport_sim.nodes.world_messages import executor_config

    cfg = load_twin_config()
    executor = executor_config(cfg.executor_params, cfg.base_frame)
    assert executor.backend == "moveit" and executor.base_frame == "fr3_link0"
    assert executor.recovery.enabled and executor.gripper.home_on_connect


def test_bad_parameter_files_are_one_clear_error(tmp_path):
    from cliport_sim.nodes.world_messages import executor_config

    bad = tmp_path / "bad.params.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    motion.warp_speed: 9.0\n")
    with pytest.raises(ConfigError, match="unknown executor parameter 'motion.warp_speed'"):
        executor_config([str(bad)], "fr3_link0")
    with pytest.raises(ConfigError, match="does not exist"):
        executor_config([str(tmp_path / "none.yaml")], "fr3_link0")
    with pytest.raises(ConfigError, match="real_time_factor"):
        dataclasses.replace(load_twin_config(), real_time_factor=-1.0)
    with pytest.raises(ConfigError, match="record_fps"):
        dataclasses.replace(load_twin_config(), record_fps=-1)
