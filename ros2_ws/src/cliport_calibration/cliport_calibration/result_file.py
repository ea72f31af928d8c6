"""``calibration/<setup>.yaml``: the hand-eye result, read by perception and the bringup.

One file per calibrated camera. The transform is ``parent_frame -> child_frame`` where the
child is the camera driver's root frame (``camera_link``), so publishing it as a static
transform never gives the optical frame a second parent; ``optical_in_child`` records the
driver's ``child -> optical`` transform the calibration used, so readers that want the
optical frame (perception) get ``T_parent_optical = T_parent_child @ T_child_optical``
without a TF lookup.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cliport_calibration import transforms
from cliport_calibration.config import CALIBRATION_TYPES, HandEyeConfig
from cliport_calibration.handeye import HandEyeResult
from cliport_common.config import ConfigError, to_dict
from cliport_perception.calibration import pose_matrix

FORMAT = "cliport_handeye/1"
REQUIRED = ("format", "calibration_type", "parent_frame", "child_frame", "translation",
            "rotation_xyzw", "optical_frame", "optical_in_child", "method", "n_samples")


@dataclass(frozen=True)
class CameraIntrinsics:
    width: int
    height: int
    K: tuple[float, ...]  # row-major 3x3
    distortion_model: str = "plumb_bob"
    D: tuple[float, ...] = ()

    def to_yaml(self) -> dict[str, Any]:
        return {"width": int(self.width), "height": int(self.height),
                "K": [float(v) for v in self.K], "distortion_model": self.distortion_model,
                "D": [float(v) for v in self.D]}


class CalibrationFileError(ValueError):
    """A calibration file is missing, malformed or inconsistent (the message names it)."""


def result_to_yaml(result: HandEyeResult, cfg: HandEyeConfig, *,
                   T_child_optical: np.ndarray | None = None,
                   intrinsics: CameraIntrinsics | None = None, camera_serial: str = "",
                   robot_type: str = "", date: str | None = None) -> dict[str, Any]:
    """The YAML mapping for ``result``; ``T_child_optical`` = driver's link -> optical."""
    T_child_optical = np.eye(4) if T_child_optical is None else np.asarray(T_child_optical)
    T_parent_child = result.T @ transforms.invert(T_child_optical)
    translation, rotation = transforms.to_pose(T_parent_child)
    o_t, o_r = transforms.to_pose(T_child_optical)
    rms_mm, rms_deg = result.rms()
    used = [result.residuals[i] for i in result.used]
    return {
        "format": FORMAT,
        "setup": cfg.setup,
        "calibration_type": result.calibration_type,
        "parent_frame": cfg.parent_frame,
        "child_frame": cfg.tracking_base_frame,
        "translation": [round(v, 7) for v in translation],
        "rotation_xyzw": [round(v, 9) for v in rotation],
        "optical_frame": cfg.camera_optical_frame,
        "optical_in_child": {"translation": [round(v, 7) for v in o_t],
                             "rotation_xyzw": [round(v, 9) for v in o_r]},
        "method": result.method,
        "n_samples": result.n_samples,
        "n_used": len(result.used),
        "rejected_samples": result.rejected,
        "residuals": {
            "rms_mm": round(rms_mm, 3), "rms_deg": round(rms_deg, 4),
            "max_mm": round(max(r.translation_mm for r in used), 3),
            "max_deg": round(max(r.rotation_deg for r in used), 4),
            "per_sample": [{"translation_mm": r.translation_mm, "rotation_deg": r.rotation_deg,
                            "rejected": r.rejected} for r in result.residuals],
        },
        "rotation_spread_deg": round(result.rotation_spread_deg, 2),
        "notes": list(result.notes),
        "camera_serial": str(camera_serial),
        "intrinsics": intrinsics.to_yaml() if intrinsics else None,
        "robot_type": robot_type,
        "board": to_dict(cfg.board),
        "date": date or _now_iso(),
    }


def _now_iso() -> str:
    # timezone.utc, not datetime.UTC (3.11): this module also runs on Humble's Python 3.10.
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")  # noqa: UP017


HEADER = ("# Hand-eye calibration written by cliport-handeye. The transform is parent_frame ->\n"
          "# child_frame (translation in metres, rotation as x y z w); optical_in_child is the\n"
          "# camera driver's child -> optical transform used. Read by cliport_perception\n"
          "# (calibration_file) and by the bringup's static transform publisher.\n")


def write(path: str | Path, data: dict[str, Any]) -> Path:
    """Write atomically (temp file + fsync + rename): a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _pose(where: str, translation, rotation) -> np.ndarray:
    try:
        return pose_matrix(translation, rotation)
    except (ConfigError, TypeError, ValueError) as exc:
        raise CalibrationFileError(f"{where}: {exc}") from exc


@dataclass(frozen=True)
class HandEyeFile:
    path: Path
    calibration_type: str
    parent_frame: str
    child_frame: str
    T_parent_child: np.ndarray
    optical_frame: str
    T_child_optical: np.ndarray
    data: dict[str, Any]

    @property
    def T_parent_optical(self) -> np.ndarray:
        return self.T_parent_child @ self.T_child_optical


def read(path: str | Path) -> HandEyeFile:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationFileError(f"cannot read calibration {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{path}: not a mapping")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CalibrationFileError(f"{path}: missing keys {missing}")
    if data["format"] != FORMAT:
        raise CalibrationFileError(f"{path}: format {data['format']!r}, expected {FORMAT!r}")
    if data["calibration_type"] not in CALIBRATION_TYPES:
        raise CalibrationFileError(f"{path}: calibration_type {data['calibration_type']!r}")
    oc = data["optical_in_child"]
    if not isinstance(oc, dict):
        raise CalibrationFileError(f"{path}: optical_in_child must be a mapping")
    return HandEyeFile(
        path, data["calibration_type"], str(data["parent_frame"]), str(data["child_frame"]),
        _pose(f"{path}", data["translation"], data["rotation_xyzw"]), str(data["optical_frame"]),
        _pose(f"{path}: optical_in_child", oc.get("translation"), oc.get("rotation_xyzw")), data)


def static_transform_arguments(path: str | Path) -> list[str]:
    """``tf2_ros static_transform_publisher`` arguments (Jazzy/Humble flag style)."""
    f = read(path)
    t, q = transforms.to_pose(f.T_parent_child)
    args = []
    for flag, v in zip(("--x", "--y", "--z", "--qx", "--qy", "--qz", "--qw"), t + q,
                       strict=True):
        args += [flag, repr(round(v, 9))]
    return args + ["--frame-id", f.parent_frame, "--child-frame-id", f.child_frame]


def merge_extrinsics(paths: list[str | Path]) -> dict[str, Any]:
    """Several fixed cameras' files -> perception's multi-camera extrinsics mapping."""
    base = None
    extrinsics = {}
    for path in paths:
        f = read(path)
        if f.calibration_type != "eye_to_hand":
            raise CalibrationFileError(f"{path}: an eye-in-hand camera moves with the arm; only "
                                       f"fixed (eye-to-hand) cameras have one extrinsic")
        if base is not None and f.parent_frame != base:
            raise CalibrationFileError(f"{path}: parent frame {f.parent_frame!r} differs from "
                                       f"{base!r}")
        if f.optical_frame in extrinsics:
            raise CalibrationFileError(f"{path}: {f.optical_frame} is calibrated twice")
        base = f.parent_frame
        t, q = transforms.to_pose(f.T_parent_optical)
        extrinsics[f.optical_frame] = {"position": t, "orientation_xyzw": q}
    return {"base_frame": base, "extrinsics": extrinsics}
