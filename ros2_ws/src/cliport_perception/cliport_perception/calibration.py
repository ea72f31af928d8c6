"""Camera extrinsics from the calibration YAML (``calibration/*.yaml``).

Format (written by the hand-eye calibration tool, read by the perception node)::

    base_frame: base                  # the arm's base frame (REP-103)
    extrinsics:                       # pose of each camera *optical* frame in base_frame
      camera_color_optical_frame:     # = the CameraInfo / Image header frame_id
        position: [0.9, 0.0, 0.7]     # metres
        orientation_xyzw: [...]       # unit quaternion, x y z w

Keyed by the optical frame id, so the node matches images to extrinsics by the frame the
driver stamps on them, with no extra naming layer to get wrong.

A single-camera hand-eye result (``format: cliport_handeye/1``, written by
``cliport-handeye``; ``cliport_calibration.result_file``) is read too: its
``parent_frame -> child_frame`` transform composed with ``optical_in_child`` is the optical
frame's extrinsic. Eye-in-hand results are refused: such a camera moves with the arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cliport_common.config import ConfigError, load_yaml
from cliport_common.frames import BASE_FRAME


def quaternion_matrix(xyzw) -> np.ndarray:
    """3x3 rotation of a unit quaternion given as (x, y, z, w)."""
    x, y, z, w = (float(v) for v in xyzw)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def pose_matrix(position, orientation_xyzw) -> np.ndarray:
    """4x4 homogeneous transform from a position and a unit quaternion (x, y, z, w)."""
    position = [float(v) for v in position]
    q = [float(v) for v in orientation_xyzw]
    if len(position) != 3 or len(q) != 4:
        raise ConfigError(f"pose needs 3 position and 4 quaternion values, got {position} {q}")
    if not all(math.isfinite(v) for v in position + q):
        raise ConfigError(f"pose has non-finite values: {position} {q}")
    norm = math.sqrt(sum(v * v for v in q))
    if abs(norm - 1.0) > 1e-3:
        raise ConfigError(f"orientation {q} is not a unit quaternion (norm {norm:.4f})")
    T = np.eye(4)
    T[:3, :3] = quaternion_matrix([v / norm for v in q])
    T[:3, 3] = position
    return T


@dataclass(frozen=True)
class Calibration:
    base_frame: str
    extrinsics: dict[str, np.ndarray]  # optical frame id -> 4x4 optical -> base

    def extrinsic(self, frame_id: str) -> np.ndarray:
        try:
            return self.extrinsics[frame_id]
        except KeyError:
            raise KeyError(f"no extrinsic calibration for camera frame {frame_id!r}; "
                           f"calibrated frames: {sorted(self.extrinsics)}") from None


HANDEYE_FORMAT = "cliport_handeye/1"


def _handeye_calibration(path, data: dict) -> Calibration:
    if data.get("calibration_type") != "eye_to_hand":
        raise ConfigError(f"{path}: a {data.get('calibration_type')!r} calibration moves with the "
                          f"arm; perception fuses fixed cameras (eye_to_hand) only")
    try:
        optical = data["optical_in_child"]
        T = (pose_matrix(data["translation"], data["rotation_xyzw"])
             @ pose_matrix(optical["translation"], optical["rotation_xyzw"]))
        return Calibration(base_frame=str(data["parent_frame"]),
                           extrinsics={str(data["optical_frame"]): T})
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed hand-eye calibration: {exc!r}") from exc


def load_calibration(path: str | Path) -> Calibration:
    data = load_yaml(path)
    if data.get("format") == HANDEYE_FORMAT:
        return _handeye_calibration(path, data)
    unknown = set(data) - {"base_frame", "extrinsics"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
    base = data.get("base_frame", BASE_FRAME)
    entries = data.get("extrinsics") or {}
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: 'extrinsics' must map camera optical frames to poses")
    extrinsics = {}
    for frame, pose in entries.items():
        if not isinstance(pose, dict) or set(pose) != {"position", "orientation_xyzw"}:
            raise ConfigError(f"{path}: {frame} needs exactly 'position' and 'orientation_xyzw'")
        try:
            extrinsics[str(frame)] = pose_matrix(pose["position"], pose["orientation_xyzw"])
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: {frame}: {exc}") from exc
    return Calibration(base_frame=str(base), extrinsics=extrinsics)
