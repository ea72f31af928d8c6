"""The environment for ROS 2 processes that stay on this machine.

Used by the runner, ``make demo`` and the test fixtures, so every process of one run
agrees: discovery only on localhost (no multicast out of the network card), one
``ROS_DOMAIN_ID`` per run (runs do not cross-talk), field type checks on (Jazzy's
default lets an int in a float64 field serialise as 5e-324), and the shared-memory
Fast DDS profile for big images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cliport_perception.config import config_path

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
