"""Test environment for the whole repository (package tests and tests/).

Set before anything imports rclpy: localhost-only discovery, a ROS_DOMAIN_ID unique to
this pytest run, field checks on, the shared-memory Fast DDS profile, one torch/BLAS
thread (the 2 cores are shared; parallel tests with more threads slow down 10x), fp32 where
a precision is "auto". Hypothesis runs its "ci" profile unless HYPOTHESIS_PROFILE names another:
derandomised (the same examples on every run and machine), no per-example deadline (the
cores are shared), no example database.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from cliport_policy.cpu_isa import ENV_PRECISION  # noqa: E402

# fp32 for "auto" in every test process and its children: the same numbers on machines with
# and without native bf16 (tests of bf16 ask for it)
os.environ.setdefault(ENV_PRECISION, "fp32")

from cliport_bringup.ros_env import apply_local_ros_env, domain_id_for  # noqa: E402

apply_local_ros_env(domain_id=int(os.environ.get("CLIPORT_TEST_DOMAIN_ID",
                                                 domain_id_for(os.getpid()))))

pytest_plugins = ["cliport_bringup.ros.testing"]
