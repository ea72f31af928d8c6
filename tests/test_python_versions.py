"""Our packages' Python runs on 3.10 too: ROS 2 Humble (Ubuntu 22.04) is the Panda/FER path.

CI runs 3.11 and Jazzy is 3.12; nothing there exercises 3.10, so a static check (vermin)
keeps 3.11-only syntax and library members (``datetime.UTC``, ``tomllib``,
``typing.Self``, ``except*``...) out of the packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_packages_need_at_most_python_3_10():
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not Path(vermin).exists():
        pytest.skip("vermin is not installed (requirements/base.txt)")
    packages = sorted(str(p) for p in (REPO / "ros2_ws" / "src").glob("*/cliport_*")
                      if p.is_dir())
    r = subprocess.run([vermin, "--no-tips", "--violations", "-q", "--no-parse-comments",
                        "-t=3.10-", *packages], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
