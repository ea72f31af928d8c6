"""The environment for ROS 2 processes that stay on this machine.

Used by the runner, ``make demo`` and the test fixtures, so every process of one run
agrees: discovery only on localhost (no multicast out of the network card), one
``ROS_DOMAIN_ID`` per run (runs do not cross-talk), field type checks on (Jazzy's
default lets an int in a float64 field serialise as 5e-324), and the shared-memory
Fast DDS profile for big images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cliport_common.config import config_path

# ROS_DOMAIN_ID 0-101 is safe on Linux with the default port mapping; 0 is everyone's
# default, so per-run ids come from 1-100.
_FIRST_ID, _N_IDS = 1, 100


def domain_id_for(seed: int) -> int:
    return _FIRST_ID + seed % _N_IDS


def fastdds_profile() -> Path:
    return config_path("cliport_bringup", "fastdds_shm.xml")


def local_ros_env(base: Mapping[str, str] | None = None, domain_id: int | None = None,
                  shared_memory: bool = True) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) set up for a local ROS 2 run."""
    env = dict(os.environ if base is None else base)
    if env.get("ROS_DISTRO") == "humble":  # Humble predates the discovery-range variable
        env["ROS_LOCALHOST_ONLY"] = "1"
    else:
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated since Jazzy; conflicts with the above
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    elif "ROS_DOMAIN_ID" not in env:
        env["ROS_DOMAIN_ID"] = str(domain_id_for(os.getpid()))
    env["ROS_PYTHON_CHECK_FIELDS"] = "1"
    if shared_memory:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(fastdds_profile())
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(fastdds_profile())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def apply_local_ros_env(domain_id: int | None = None) -> dict[str, str]:
    """Set the local environment in this process (before rclpy is initialised)."""
    env = local_ros_env(domain_id=domain_id)
    os.environ.update(env)
    return env


def undecodable_argument(argv: Sequence[str]) -> str | None:
    """Why a command line cannot reach ROS, or None: ``rclpy.init()`` encodes every argument
    as UTF-8, and Python carries bytes that are not UTF-8 as lone surrogates
    (surrogateescape), so such an argument ends in a traceback instead of a message."""
    for i, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(arg[exc.start])
            what = (f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF
                    else f"lone surrogate U+{code:04X}")
            where = len(arg[:exc.start].encode("utf-8"))
            try:
                raw = arg.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raw = arg.encode("utf-8", "backslashreplace")
            shown = raw[:40].decode("utf-8", "backslashreplace")
            return (f"argument {i} (\"{shown}{'...' if len(raw) > 40 else ''}\") is not "
                    f"valid UTF-8 ({what} at offset {where}); ROS needs UTF-8 text")
    return None
