"""Recorded episode states: taken at the video rate while the arm moves, replayed exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pybullet as p
import pytest

from cliport_sim.environment import Environment, load_sim_config
from cliport_sim.recording import Recording, StateRecorder
from cliport_sim.tasks import make_task

TASK = "put-block-in-bowl-seen-colors"


@pytest.fixture(scope="module")
def recorded():
    """One oracle step of a put-block-in-bowl episode, recorded at 15 fps."""
    cfg = dataclasses.replace(load_sim_config(), observe=False)
    env = Environment(make_task(TASK, "test"), cfg)
    env.reset(10001)
    rec = StateRecorder(fps=15)
    rec.start(env)
    _, reward, _, info = env.step(env.task.oracle(env))
    rec.step_ended(reward, info["primitive"]["ok"])
    yield rec.recording(), env, reward
    env.close()


def test_states_are_kept_every_hz_over_fps_steps_and_the_step_marked(recorded):
    rec, env, reward = recorded
    # one frame after the reset, one per 480 / 15 = 32 physics steps (the arm's and the
    # settling's), one at the step's end
    assert rec.n_frames >= 2 + env.robot.sim_steps // 32
    assert rec.fps == 15 and rec.task == TASK and rec.seed == 10001
    assert rec.poses.shape == (rec.n_frames, len(rec.bodies), 7)
    assert rec.joints.shape[1] >= 6  # the UR5's joints at least
    assert len(rec.events) == 1 and rec.events[0].frame == rec.n_frames - 1
    assert rec.events[0].reward == pytest.approx(reward) and rec.events[0].ok
    # the arm moved during the step
    assert np.abs(rec.joints[-1] - rec.joints[0]).max() > 0.1


def test_the_last_frame_is_the_world_as_it_is(recorded):
    rec, env, _ = recorded
    for b, pose in zip(rec.bodies, rec.poses[-1], strict=True):
        pos, quat = p.getBasePositionAndOrientation(b, physicsClientId=env.client)
        np.testing.assert_allclose(pose[:3], pos, atol=1e-6)


def test_a_recording_survives_text_and_bytes(recorded):
    rec = recorded[0]
    back = Recording.from_text(rec.to_text())
    assert (back.task, back.mode, back.seed, back.instruction, back.fps) == (
        rec.task, rec.mode, rec.seed, rec.instruction, rec.fps)
    assert back.bodies == rec.bodies and back.joint_index == rec.joint_index
    np.testing.assert_array_equal(back.poses, rec.poses)
    np.testing.assert_array_equal(back.joints, rec.joints)
    assert back.events == rec.events
    assert back.robot == rec.robot == "ur5"


def test_a_recording_from_before_the_robot_field_reads_as_the_ur5(recorded):
    import io
    import json

    rec = recorded[0]
    meta = {"task": rec.task, "mode": rec.mode, "seed": rec.seed,
            "instruction": rec.instruction, "fps": rec.fps, "bodies": rec.bodies,
            "joint_index": rec.joint_index, "events": [e.__dict__ for e in rec.events]}
    buf = io.BytesIO()
    np.savez_compressed(buf, poses=rec.poses, joints=rec.joints,
                        meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    old = Recording.from_bytes(buf.getvalue())
    assert old.robot == "ur5" and old.n_frames == rec.n_frames and old.events == rec.events


def test_the_twin_is_recorded_as_the_panda_at_its_own_physics_rate():
    cfg = dataclasses.replace(load_sim_config(), robot="panda", observe=False)
    with Environment(make_task(TASK, "test"), cfg) as env:
        env.reset(10003)
        recorder = StateRecorder(fps=15)
        recorder.start(env)
        env.step_simulation(64)  # the twin's arm runs at 240 Hz: a frame every 16 steps
        rec = recorder.recording()
    assert rec.robot == "panda" and rec.n_frames == 1 + 4
    back = Recording.from_text(rec.to_text())
    assert back.robot == "panda" and back.bodies == rec.bodies


def test_recording_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="start"):
        StateRecorder().recording()
    with pytest.raises(ValueError):
        StateRecorder(fps=0)


def test_an_earlier_physics_hook_still_runs():
    cfg = dataclasses.replace(load_sim_config(), observe=False)
    with Environment(make_task(TASK, "test"), cfg) as env:
        env.reset(10005)
        calls = []
        env.on_physics_step = lambda: calls.append(1)
        rec = StateRecorder(fps=15)
        rec.start(env)
        rec.start(env)  # a second episode: hooked once, not twice
        env.step_simulation(64)
        assert len(calls) == 64 and rec.recording().n_frames == 1 + 2
        rec.stop()
        assert env.on_physics_step is not None and env.on_physics_step != rec._tick
