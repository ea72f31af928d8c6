"""The sampler's logic without ROS: pairing by stamp, refusals, persistence, clearing."""

import numpy as np
import pytest

from cliport_calibration import charuco, transforms
from cliport_calibration.config import HandEyeConfig, SamplerConfig
from cliport_calibration.session import CameraImage, CaptureError, SamplerSession

K = np.array([[900.0, 0, 639.5], [0, 900.0, 479.5], [0, 0, 1]])
HANDEYE = HandEyeConfig(setup="t", camera_optical_frame="cam")


def session(tmp_path, **kw):
    return SamplerSession(HANDEYE, SamplerConfig(calibration_dir=str(tmp_path), **kw))


def image(stamp_ns, frame="cam", T=None):
    T = transforms.make(np.radians([10.0, 5.0, 0.0]), (-0.1, -0.08, 0.7)) if T is None else T
    return CameraImage(charuco.project_board(HANDEYE.board, T, K, (1280, 960)), K, np.zeros(5),
                       stamp_ns, frame, 1280, 960)


def test_the_robot_pose_nearest_the_image_stamp_is_used(tmp_path):
    s = session(tmp_path)
    for i in range(10):
        s.on_robot_pose(i * 10_000_000, transforms.make(np.zeros(3), (i, 0, 0)))
    assert s.robot_pose_at(41_000_000)[0, 3] == 4
    assert s.robot_pose_at(47_000_000)[0, 3] == 5
    with pytest.raises(CaptureError, match="no robot pose within 50 ms"):
        s.robot_pose_at(400_000_000)


def test_capture_refusals_name_the_reason(tmp_path):
    s = session(tmp_path)
    with pytest.raises(CaptureError, match="no image"):
        s.capture()
    s.on_image(image(1_000))
    with pytest.raises(CaptureError, match="no robot pose received"):
        s.capture()
    s.on_robot_pose(1_000, np.eye(4))
    s.on_image(image(1_000, frame="other_frame"))
    with pytest.raises(CaptureError, match="'other_frame'"):
        s.capture()
    s.on_image(CameraImage(np.full((960, 1280), 128, np.uint8), K, np.zeros(5), 1_000, "cam",
                           1280, 960))
    with pytest.raises(CaptureError, match="board not usable"):
        s.capture()
    s.on_image(image(1_000))
    assert s.capture().startswith("sample 1:")
    with pytest.raises(CaptureError, match="no new image"):
        s.capture()


def test_samples_persist_across_sessions_and_clear_keeps_them(tmp_path):
    s = session(tmp_path)
    for i in range(3):
        s.on_robot_pose(i, np.eye(4))
        s.on_image(image(i))
        s.capture()
    again = session(tmp_path)
    assert len(again.samples) == 3
    message = again.clear()
    assert "cleared 3 samples" in message
    assert again.samples == [] and not again.samples_path.exists()
    assert len(list(tmp_path.glob("t.samples.*.jsonl"))) == 1
    assert session(tmp_path).samples == []
