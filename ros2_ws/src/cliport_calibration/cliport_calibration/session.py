"""A sample-collection session: the logic of the ``handeye_sampler`` node, without ROS.

The node feeds it robot poses and images as they arrive; ``capture()`` pairs the newest
image with the robot pose closest to its stamp, detects the board and appends the sample to
``<calibration_dir>/<setup>.samples.jsonl`` (fsynced, so a crash keeps what was captured and a
restart continues the session); ``solve()`` writes ``<calibration_dir>/<setup>.yaml``.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cliport_calibration import charuco, result_file, samples, transforms
from cliport_calibration.config import HandEyeConfig, SamplerConfig
from cliport_calibration.handeye import Sample, calibrate


class CaptureError(ValueError):
    """A capture or solve request cannot be served now (the message says why)."""


@dataclass
class CameraImage:
    image: np.ndarray
    K: np.ndarray
    D: np.ndarray
    stamp_ns: int
    frame_id: str
    width: int
    height: int
    distortion_model: str = "plumb_bob"


class SamplerSession:
    def __init__(self, handeye: HandEyeConfig, cfg: SamplerConfig) -> None:
        self.handeye = handeye
        self.cfg = cfg
        self.dir = Path(cfg.calibration_dir)
        self.samples_path = self.dir / f"{handeye.setup}.samples.jsonl"
        self.result_path = self.dir / f"{handeye.setup}.yaml"
        self._board = charuco.make_board(handeye.board)
        self._pose_stamps: deque[int] = deque(maxlen=cfg.pose_buffer)
        self._poses: deque[np.ndarray] = deque(maxlen=cfg.pose_buffer)
        self.latest: CameraImage | None = None
        self.samples: list[Sample] = (samples.load(self.samples_path)
                                      if self.samples_path.exists() else [])

    # ------------------------------------------------------------------ inputs
    def on_robot_pose(self, stamp_ns: int, T_base_effector: np.ndarray) -> None:
        if self._pose_stamps and stamp_ns < self._pose_stamps[-1]:
            self._pose_stamps.clear()  # time went backwards (sim restart, bag loop)
            self._poses.clear()
        self._pose_stamps.append(int(stamp_ns))
        self._poses.append(np.asarray(T_base_effector, dtype=np.float64))

    def on_image(self, image: CameraImage) -> None:
        self.latest = image

    def robot_pose_at(self, stamp_ns: int) -> np.ndarray:
        stamps = list(self._pose_stamps)
        if not stamps:
            raise CaptureError("no robot pose received yet (is the robot state topic "
                               f"{self.cfg.robot_pose_topic} published?)")
        i = bisect.bisect_left(stamps, stamp_ns)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)),
                   key=lambda j: abs(stamps[j] - stamp_ns))
        gap = abs(stamps[best] - stamp_ns) / 1e9
        if gap > self.cfg.max_sync_s:
            raise CaptureError(f"no robot pose within {self.cfg.max_sync_s * 1000:.0f} ms of the "
                               f"image (nearest {gap * 1000:.0f} ms): clocks or rates differ")
        return self._poses[best]

    # ------------------------------------------------------------------ services
    def capture(self, T_base_effector: np.ndarray | None = None) -> str:
        """Take one sample from the newest image; ``T_base_effector`` overrides the buffer."""
        img = self.latest
        if img is None:
            raise CaptureError(f"no image received yet on {self.cfg.image_topic}")
        if img.frame_id and img.frame_id != self.handeye.camera_optical_frame:
            raise CaptureError(f"the image is in {img.frame_id!r}, the configuration calibrates "
                               f"{self.handeye.camera_optical_frame!r}")
        if self.samples and self.samples[-1].stamp_ns == img.stamp_ns:
            raise CaptureError("no new image since the last sample")
        T = self.robot_pose_at(img.stamp_ns) if T_base_effector is None else T_base_effector
        try:
            det = charuco.detect(img.image, img.K, img.D, self.handeye.board,
                                 self.handeye.detection, board=self._board)
        except charuco.NoBoard as exc:
            raise CaptureError(f"board not usable: {exc}") from exc
        sample = Sample(T, det.T_cam_board, img.stamp_ns, det.n_corners, det.reprojection_rms_px)
        samples.append(self.samples_path, sample)
        self.samples.append(sample)
        return (f"sample {len(self.samples)}: {det.n_corners} corners, reprojection "
                f"{det.reprojection_rms_px:.2f} px, board {det.T_cam_board[2, 3]:.3f} m away")

    def solve(self, T_child_optical: np.ndarray | None = None) -> str:
        if T_child_optical is None:
            v = self.cfg.optical_in_child
            T_child_optical = transforms.from_pose(v[:3], v[3:])
        result = calibrate(self.samples, self.handeye.calibration_type, self.handeye.solver)
        img = self.latest
        intrinsics = None if img is None else result_file.CameraIntrinsics(
            img.width, img.height, tuple(float(v) for v in img.K.reshape(-1)),
            img.distortion_model, tuple(float(v) for v in img.D.reshape(-1)))
        data = result_file.result_to_yaml(result, self.handeye, T_child_optical=T_child_optical,
                                          intrinsics=intrinsics,
                                          camera_serial=self.cfg.camera_serial,
                                          robot_type=self.cfg.robot_type)
        result_file.write(self.result_path, data)
        rms_mm, rms_deg = result.rms()
        rejected = f", rejected {result.rejected}" if result.rejected else ""
        return (f"wrote {self.result_path}: {len(result.used)}/{result.n_samples} samples"
                f"{rejected}, residual RMS {rms_mm:.2f} mm / {rms_deg:.3f} deg")

    def clear(self) -> str:
        """Start a new session; the old sample file is kept under a dated name."""
        if not self.samples_path.exists():
            self.samples = []
            return "no samples to clear"
        kept = self.samples_path.with_name(
            f"{self.handeye.setup}.samples.{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        self.samples_path.rename(kept)
        n, self.samples = len(self.samples), []
        return f"cleared {n} samples (kept in {kept})"
