"""Board detection: a rendered board's pose is recovered; unusable images say why."""

import numpy as np
import pytest

from cliport_calibration import charuco
from cliport_calibration.config import BoardConfig, DetectionConfig

BOARD = BoardConfig()
K = np.array([[900.0, 0, 640], [0, 900.0, 480], [0, 0, 1]])


def warped_board(T_cam_board, size=(1280, 960)):
    return charuco.project_board(BOARD, T_cam_board, K, size)


def test_the_pose_of_a_projected_board_is_recovered():
    from cliport_calibration import transforms

    T = transforms.make(np.radians([15.0, -10.0, 20.0]), (-0.1, -0.05, 0.8))
    det = charuco.detect(warped_board(T), K, None, BOARD)
    dt, dr = transforms.difference(det.T_cam_board, T)
    assert det.n_corners == (BOARD.squares_x - 1) * (BOARD.squares_y - 1)
    assert dt < 2e-3 and np.degrees(dr) < 0.3
    assert det.reprojection_rms_px < 0.5


def test_images_without_a_usable_board_raise_no_board_with_the_reason():
    with pytest.raises(charuco.NoBoard, match="0 ChArUco corners"):
        charuco.detect(np.full((480, 640, 3), 127, np.uint8), K, None, BOARD)
    from cliport_calibration import transforms

    T = transforms.make(np.zeros(3), (-0.1, -0.08, 0.8))
    strict = DetectionConfig(min_corners=50)
    with pytest.raises(charuco.NoBoard, match="50 needed"):
        charuco.detect(warped_board(T), K, None, BOARD, strict)


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="image"):
        charuco.detect(np.zeros((0, 0)), K, None, BOARD)
    with pytest.raises(ValueError, match="non-finite"):
        charuco.detect(np.full((10, 10), np.nan), K, None, BOARD)
    with pytest.raises(ValueError, match="camera matrix"):
        charuco.detect(np.zeros((10, 10), np.uint8), np.zeros((3, 3)), None, BOARD)
    with pytest.raises(ValueError, match="dictionary"):
        charuco.make_board(BoardConfig(dictionary="DICT_NOPE"))
    with pytest.raises(ValueError, match="needs"):
        charuco.make_board(BoardConfig(squares_x=12, squares_y=12, dictionary="DICT_4X4_50"))


def test_the_board_image_has_the_printed_size():
    image = charuco.board_image(BOARD, pixels_per_metre=5000.0, margin_px=10)
    w, h = BOARD.size
    assert image.shape == (round(h * 5000) + 20, round(w * 5000) + 20)


def test_an_old_opencv_is_refused_with_what_to_install(monkeypatch):
    import cv2

    monkeypatch.setattr(cv2, "__version__", "4.6.0")
    with pytest.raises(charuco.OpenCVError, match="opencv-python-headless>=4.7"):
        charuco.require_opencv()
