"""ChArUco board detection and board pose (OpenCV >= 4.7 objdetect API).

OpenCV 4.7 moved ArUco into objdetect and removed the old free functions
(``Dictionary_get``, ``DetectorParameters_create``, ``interpolateCornersCharuco``,
``estimatePoseCharucoBoard``). This module uses only the detector classes plus
``solvePnP``; on an older OpenCV (Ubuntu 24.04's apt python3-opencv is 4.6) it refuses with a
message naming the package to install, rather than failing somewhere inside cv2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cliport_calibration import transforms
from cliport_calibration.config import BoardConfig, DetectionConfig

MIN_OPENCV = (4, 7)
OPENCV_HINT = ("pip install 'opencv-python-headless>=4.7,<5' (or opencv-contrib-python-headless) "
               "in the calibration environment; Ubuntu 24.04's python3-opencv is 4.6, which "
               "lacks the objdetect ArUco API, and OpenCV 5.0's wheels lack calibrateHandEye")


class OpenCVError(RuntimeError):
    """OpenCV is missing or too old for the calibration."""


def require_opencv():
    """Return ``cv2`` when it has everything the calibration needs, else raise OpenCVError."""
    try:
        import cv2
    except ImportError as exc:
        raise OpenCVError(f"OpenCV is not installed: {OPENCV_HINT}") from exc
    version = tuple(int(v) for v in cv2.__version__.split(".")[:2])
    missing = [name for name, owner in (("CharucoDetector", getattr(cv2, "aruco", None)),
                                        ("calibrateHandEye", cv2))
               if owner is None or not hasattr(owner, name)]
    if version < MIN_OPENCV or missing:
        raise OpenCVError(f"OpenCV {cv2.__version__} cannot run the calibration "
                          f"(missing: {', '.join(missing) or 'version >= 4.7'}): {OPENCV_HINT}")
    return cv2


def make_board(cfg: BoardConfig):
    cv2 = require_opencv()
    try:
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, cfg.dictionary))
    except AttributeError:
        raise ValueError(f"unknown ArUco dictionary {cfg.dictionary!r} (e.g. DICT_4X4_50, "
                         f"DICT_5X5_100)") from None
    board = cv2.aruco.CharucoBoard((cfg.squares_x, cfg.squares_y), cfg.square_length,
                                   cfg.marker_length, dictionary)
    if cfg.legacy_pattern:
        board.setLegacyPattern(True)
    n_markers = (cfg.squares_x * cfg.squares_y) // 2
    if n_markers > dictionary.bytesList.shape[0]:
        raise ValueError(f"{cfg.dictionary} has {dictionary.bytesList.shape[0]} markers; the "
                         f"board needs {n_markers}")
    return board


def board_image(cfg: BoardConfig, pixels_per_metre: float, margin_px: int = 0) -> np.ndarray:
    """The board as a grey uint8 image, exactly ``size * pixels_per_metre`` (+ margins).

    For printing (at a known DPI) and as the simulator's texture. Image column = board x,
    image row = board y, origin at the top-left corner of the squares.
    """
    w, h = cfg.size
    size = (round(w * pixels_per_metre) + 2 * margin_px,
            round(h * pixels_per_metre) + 2 * margin_px)
    return make_board(cfg).generateImage(size, marginSize=margin_px, borderBits=1)


@dataclass(frozen=True)
class BoardDetection:
    """One image's board pose: ``T_cam_board`` (board frame in the camera optical frame)."""

    T_cam_board: np.ndarray
    n_corners: int
    reprojection_rms_px: float
    corners_px: np.ndarray  # (N, 2) detected ChArUco corners


class NoBoard(ValueError):
    """The image gives no usable board pose (the reason says why)."""


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = image[..., :3].mean(axis=2)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a grey or RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        if not np.all(np.isfinite(image)):
            raise ValueError("image has non-finite values")
        image = np.clip(image, 0, 255)
    return np.ascontiguousarray(image.astype(np.uint8))


def detect(image: np.ndarray, K: np.ndarray, dist: np.ndarray | None, board_cfg: BoardConfig,
           detection: DetectionConfig | None = None, board=None) -> BoardDetection:
    """Detect the ChArUco board and solve its pose; raise NoBoard when it is not usable."""
    cv2 = require_opencv()
    detection = detection or DetectionConfig()
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    dist = np.zeros(5) if dist is None else np.asarray(dist, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"invalid camera matrix {K.tolist()}")
    board = board if board is not None else make_board(board_cfg)
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(_gray(image))
    n = 0 if ids is None else len(ids)
    if n < max(4, detection.min_corners):
        raise NoBoard(f"{n} ChArUco corners found, {max(4, detection.min_corners)} needed")
    obj, img = board.matchImagePoints(corners, ids)
    obj = obj.reshape(-1, 3).astype(np.float64)
    img = img.reshape(-1, 2).astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, K, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        raise NoBoard("solvePnP failed")
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, dist, rvec, tvec)
    projected, _ = cv2.projectPoints(obj, rvec, tvec, K, dist)
    rms = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - img) ** 2, axis=1))))
    if rms > detection.max_reprojection_px:
        raise NoBoard(f"reprojection RMS {rms:.2f} px > {detection.max_reprojection_px} px")
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec)) and np.isfinite(rms)):
        raise NoBoard("the board pose did not converge (non-finite solvePnP result)")
    T = transforms.make(rvec.reshape(3), tvec.reshape(3))
    if T[2, 3] <= 0:
        raise NoBoard("board pose behind the camera")
    return BoardDetection(T, n, rms, img)


def project_board(cfg: BoardConfig, T_cam_board: np.ndarray, K: np.ndarray,
                  size: tuple[int, int], background: int = 128) -> np.ndarray:
    """A pinhole view of the flat board (exact homography): synthetic input for tests."""
    cv2 = require_opencv()
    ppm, margin = 4000.0, 200
    image = board_image(cfg, ppm, margin_px=margin)
    # board-image pixel (u, v) -> board point ((u - margin) / ppm, (v - margin) / ppm, 0)
    A = np.array([[1 / ppm, 0, -margin / ppm], [0, 1 / ppm, -margin / ppm], [0, 0, 1]])
    T = np.asarray(T_cam_board, dtype=np.float64)
    H = np.asarray(K, dtype=np.float64) @ np.column_stack([T[:3, 0], T[:3, 1], T[:3, 3]]) @ A
    return cv2.warpPerspective(image, H, size, flags=cv2.INTER_AREA, borderValue=background)
