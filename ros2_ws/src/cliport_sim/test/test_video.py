"""Episode videos: the recorded states rendered from the side, with the text drawn on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cliport_sim.testing import oracle_step_recording
from cliport_sim.video import CAMERAS, VideoCamera, render_recording, save_video

SMALL = VideoCamera(width=160, height=120, hold_s=0.2)


@pytest.fixture(scope="module")
def recording():
    return oracle_step_recording(10003)


def test_replayed_frames_show_the_arm_moving(recording):
    frames = render_recording(recording, SMALL)
    assert len(frames) == recording.n_frames
    assert frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
    # the arm moves: the picture changes during the step, and not just a few pixels
    changed = np.abs(frames[len(frames) // 2].astype(int) - frames[0].astype(int)).max(-1)
    assert (changed > 30).mean() > 0.005


def test_mp4_and_gif_at_ten_fps_or_more(recording, tmp_path):
    import imageio_ffmpeg
    from PIL import Image

    mp4, gif = save_video(recording, tmp_path / "ep", cam=SMALL)
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    frames = list(reader)
    assert meta["fps"] >= 10 and meta["codec"] == "h264"
    held = 2 * (round(SMALL.hold_s * recording.fps) - 1)
    assert len(frames) == recording.n_frames + held
    g = Image.open(gif)
    assert g.n_frames > 1
    durations = []
    for i in range(g.n_frames):
        g.seek(i)
        durations.append(g.info["duration"])
    assert min(durations) <= 100  # 10 fps or more while the arm moves


def test_a_scene_that_does_not_match_is_refused(recording):
    other = dataclasses.replace(recording, bodies=[*recording.bodies, 99])
    with pytest.raises(ValueError, match="other bodies"):
        render_recording(other, SMALL)


@pytest.fixture(scope="module")
def twin_recording():
    """Three states of one oracle step on the Franka twin: before, mid-step, after."""
    rec = oracle_step_recording(10003, robot="panda")
    picks = [0, rec.n_frames // 2, rec.n_frames - 1]
    return dataclasses.replace(rec, poses=rec.poses[picks], joints=rec.joints[picks],
                               events=[])


def test_a_twin_recording_is_replayed_in_the_twins_scene(twin_recording):
    assert twin_recording.robot == "panda"
    cam = dataclasses.replace(CAMERAS["panda"], width=160, height=120)
    frames = render_recording(twin_recording, cam)
    assert len(frames) == 3 and all(f.shape == (120, 160, 3) for f in frames)
    changed = np.abs(frames[1].astype(int) - frames[0].astype(int)).max(-1)
    assert (changed > 30).mean() > 0.005  # the arm is in view, and moved
    # the same states in the UR5's scene: other bodies, refused
    with pytest.raises(ValueError, match="other bodies"):
        render_recording(dataclasses.replace(twin_recording, robot="ur5"), SMALL)


def test_the_twin_camera_frames_the_franka_workspace_and_the_ready_arm():
    import pybullet as p

    from cliport_sim.testing import task_env

    cam = CAMERAS["panda"]
    view = np.array(p.computeViewMatrix(list(cam.eye), list(cam.target), [0, 0, 1])
                    ).reshape(4, 4).T
    proj = np.array(p.computeProjectionMatrixFOV(cam.fov_deg, cam.width / cam.height,
                                                 0.05, 10.0)).reshape(4, 4).T
    with task_env("put-block-in-bowl-seen-colors", "test", robot="panda") as env:
        env.reset(10003)
        ws, arm = env.workspace, env.robot.arm.body
        # every link of the arm standing ready, and the workspace's corners (table to top)
        points = [p.getLinkState(arm, i, physicsClientId=env.client)[4]
                  for i in range(p.getNumJoints(arm, physicsClientId=env.client))]
    points += [(x, y, z) for x in (ws.x_min, ws.x_max) for y in (ws.y_min, ws.y_max)
               for z in (ws.z_min, ws.z_max)]
    for point in points:
        clip = proj @ view @ np.array([*point, 1.0])
        ndc = clip[:3] / clip[3]
        assert np.all(np.abs(ndc[:2]) < 0.9), (point, ndc)  # inside, off the edges


def test_a_long_episode_gif_plays_faster_within_its_frame_cap(tmp_path):
    from PIL import Image

    from cliport_sim.video import write_gif

    # 60 s at 15 fps: 600 GIF frames at real time; capped at 50, from the whole episode
    frames = [np.full((8, 8, 3), i * 255 // 899, np.uint8) for i in range(900)]
    g = Image.open(write_gif(tmp_path / "long.gif", frames, fps=15, scale=1.0, max_frames=50))
    assert g.n_frames == 50
    g.seek(49)
    assert np.asarray(g.convert("RGB"))[0, 0, 0] >= 240  # the episode's end is still shown
    short = Image.open(write_gif(tmp_path / "short.gif", frames[::30], fps=15, scale=1.0))
    assert short.n_frames == 20  # a short one stays at real time (10 fps)
