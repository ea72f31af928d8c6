"""The episode report in a real browser (Debian's headless chromium through chromedriver):
its videos load and play, its GIFs and heatmap panels show."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cliport_policy.episode_report import ReportEpisode, step_panel, write_report
from cliport_policy.heatmaps import save_png
from cliport_teleop.browser import BrowserUnavailable, chromium

pytestmark = pytest.mark.timeout(240)


def browser():
    try:
        return chromium(extra_args=("--autoplay-policy=no-user-gesture-required",))
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


def test_step_panel_pads_to_the_tallest_image():
    a = np.zeros((4, 3, 3), np.uint8)
    b = np.zeros((6, 2, 3), np.uint8)
    panel = step_panel([a, None, b], gap=1)
    assert panel.shape == (6, 3 + 1 + 2, 3)
    assert (panel[4:, :3] == 255).all()  # padding under the shorter one


def test_the_report_shows_videos_gifs_and_heatmaps_in_chromium(tmp_path):
    from cliport_sim.testing import oracle_step_recording
    from cliport_sim.video import VideoCamera, save_video

    recording = oracle_step_recording(10005)
    reward = recording.events[0].reward
    mp4, gif = save_video(recording, tmp_path / "episode-00", cam=VideoCamera(240, 180))
    colormap = np.full((64, 32, 3), 90, np.uint8)
    save_png(tmp_path / "step1.png", step_panel([colormap, colormap, colormap]))
    episodes = [ReportEpisode(0, 10005, recording.task, recording.instruction, False, reward,
                              video=mp4.name, gif=gif.name, topdown=["step1.png"],
                              steps=[f"step 1: reward {reward:+.3f}"]),
                ReportEpisode(1, 10007, recording.task, "no video <here>", True, 1.0)]
    index = write_report(tmp_path, episodes, title="test report")
    assert "no video &lt;here&gt;" in index.read_text()

    driver = browser()
    try:
        driver.get(index.as_uri())
        assert driver.title == "test report"
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            state = driver.execute_script(
                "return Array.from(document.querySelectorAll('video')).map("
                "v => [v.readyState, v.duration, v.videoWidth, v.error && v.error.code])")
            if state and all(s[0] >= 1 and s[1] > 0 for s in state):
                break
            time.sleep(0.2)
        assert len(state) == 1, state
        ready, duration, width, error = state[0]
        assert error is None and ready >= 1 and width == 240, state
        assert duration == pytest.approx(len(list_frames(mp4)) / recording.fps, abs=0.2)
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete,"
            " i.naturalWidth])")
        assert sorted(i[0] for i in images) == sorted([gif.name, "step1.png"])
        assert all(complete and width > 0 for _, complete, width in images), images
        text = driver.find_element("tag name", "body").text
        assert "success 1/2" in text and "episode 0: failure" in text
    finally:
        driver.quit()


def list_frames(mp4) -> list:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(mp4))
    next(reader)
    return list(reader)
