"""Build the rosidl interface package ``cliport_msgs`` into a Python venv.

ROS 2 Jazzy's PyPI wheels ship the rosidl generators but no ``colcon``-style
install space, so the interface package is built with plain CMake, installed
into the venv prefix, where ``from cliport_msgs.action import PickPlace`` then
works with no sourced environment.

Two facts (docs/design.md#msgs-build) are handled here:

* the message wheels' ``export_*__rosidl_generator_pyExport.cmake`` files name
  include directories of the wheel builder; they are rewritten to this
  interpreter's Python and numpy include directories (idempotent);
* the build needs ``AMENT_PREFIX_PATH`` pointing at the venv.

The build is skipped when the interface sources are unchanged since the last
install (a hash stamp in the venv), so a second ``make setup`` is fast.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["cliport_msgs"]
_BUILDER_PY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
_BUILDER_NP_INCLUDE = re.compile(
    r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include"
)


def fix_wheel_include_paths(prefix: Path) -> int:
    """Point the wheels' exported include dirs at this interpreter; returns files changed."""
    import numpy

    py_inc = sysconfig.get_paths()["include"]
    np_inc = numpy.get_include()
    changed = 0
    for path in (prefix / "share").glob("*/cmake/export_*__rosidl_generator_pyExport.cmake"):
        text = path.read_text()
        new = _BUILDER_NP_INCLUDE.sub(np_inc, _BUILDER_PY_INCLUDE.sub(py_inc, text))
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


def source_hash(pkg_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(pkg_dir.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(pkg_dir)).encode())
            digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def build(pkg: str, prefix: Path, build_root: Path, force: bool) -> None:
    src = REPO / "ros2_ws" / "src" / pkg
    stamp = prefix / "share" / pkg / ".cliport_build_stamp"
    wanted = source_hash(src)
    if not force and stamp.is_file() and stamp.read_text() == wanted:
        print(f"{pkg}: up to date")
        return
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix), CMAKE_PREFIX_PATH=str(prefix))
    bdir = build_root / pkg
    bdir.mkdir(parents=True, exist_ok=True)
    python = prefix / "bin" / "python"
    configure = [
        "cmake", "-S", str(src), "-B", str(bdir),
        f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_INSTALL_PREFIX={prefix}",
        f"-DPython3_EXECUTABLE={python}", "-DBUILD_TESTING=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
    ]
    jobs = str(os.cpu_count() or 2)
    for cmd in (configure, ["cmake", "--build", str(bdir), "-j", jobs],
                ["cmake", "--install", str(bdir)]):
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    stamp.write_text(wanted)
    print(f"{pkg}: built and installed into {prefix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix))
    parser.add_argument("--build-dir", type=Path, default=REPO / "build" / "rosidl")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    n = fix_wheel_include_paths(args.prefix)
    if n:
        print(f"fixed wheel include paths in {n} files")
    for pkg in PACKAGES:
        build(pkg, args.prefix.resolve(), args.build_dir, args.force)


if __name__ == "__main__":
    main()
