"""Find and check the calibration YAML a source or node is pointed at.

Graph files and launch files pass ``calibration_file`` as a plain parameter string, and
that must work both from a source checkout (``pip install -e``) and from a colcon
install. So besides a filesystem path it may be ``package://<package>/config/<file>``,
resolved the way the runner resolves parameter files: the package's ``config/`` folder,
wherever the install layout put it.
"""

from __future__ import annotations

from pathlib import Path

from cliport_common.config import ConfigError, config_dir
from cliport_perception.calibration import Calibration, load_calibration

PACKAGE_SCHEME = "package://"


def resolve_file(path_or_url: str) -> Path:
    """A filesystem path for ``path_or_url`` (a path or ``package://pkg/rel``); must exist."""
    text = str(path_or_url).strip()
    if not text:
        raise ConfigError("no file given (empty path)")
    if text.startswith(PACKAGE_SCHEME):
        package, _, rel = text[len(PACKAGE_SCHEME):].partition("/")
        if not package or not rel:
            raise ConfigError(f"{text}: expected package://<package>/<path>")
        path = config_dir(package).parent / rel
    else:
        path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"file {text} does not exist" +
                          (f" (resolved to {path})" if str(path) != text else ""))
    return path


def load_source_calibration(path_or_url: str, base_frame: str,
                            frames: list[str] | None = None) -> Calibration:
    """Load the calibration, check its base frame and (if given) that it has ``frames``."""
    if not str(path_or_url).strip():
        raise ConfigError("calibration_file is empty: point it at a calibration YAML with "
                          "the cameras' optical-frame extrinsics (see calibration/)")
    path = resolve_file(path_or_url)
    calibration = load_calibration(path)
    if calibration.base_frame != base_frame:
        raise ConfigError(f"{path}: calibration is in frame {calibration.base_frame!r}, "
                          f"expected {base_frame!r}")
    missing = [f for f in frames or [] if f not in calibration.extrinsics]
    if missing:
        raise ConfigError(f"{path}: no extrinsics for camera frames {missing}; "
                          f"calibrated frames: {sorted(calibration.extrinsics)}")
    return calibration
