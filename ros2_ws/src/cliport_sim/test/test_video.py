"""Episode videos: the recorded states rendered from the side, with the text drawn on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cliport_sim.testing import oracle_step_recording
from cliport_sim.video import VideoCamera, render_recording, save_video

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
