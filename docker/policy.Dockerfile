# syntax=docker/dockerfile:1
# The policy image, CPU: apt ROS 2 Jazzy (ros-base) + a venv with CPU torch, our Python
# dependencies and our packages. Runs `policy_node` (and cliport-train / cliport-eval) on a
# machine without a GPU. The GPU variant is docker/policy-cuda.Dockerfile.
#
# Build from the repository root:
#   docker build -f docker/policy.Dockerfile -t cliport-ros:policy .
# Not built in CI (no Docker engine there): linted with hadolint, checked by tests/test_docker.py.
FROM ros:jazzy-ros-base

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    RMW_IMPLEMENTATION=rmw_fastrtps_cpp

# python3-venv: Noble's python3 has no ensurepip without it; python3-dev: Python.h for the
# rosidl Python typesupport of cliport_msgs and for any sdist pip has to build. The rest of
# what our nodes import from ROS (rclpy, std/sensor/geometry/visualization/diagnostic msgs,
# rosidl generators) is part of ros-base; listed anyway so a slimmer base fails loudly here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential \
      cmake \
      python3-colcon-common-extensions \
      python3-dev \
      python3-venv \
      ros-jazzy-diagnostic-msgs \
      ros-jazzy-rosidl-default-generators \
      ros-jazzy-sensor-msgs \
      ros-jazzy-std-srvs \
      ros-jazzy-visualization-msgs \
 && rm -rf /var/lib/apt/lists/*

# A venv with --system-site-packages: apt's rclpy and message modules stay importable, pip
# installs into the venv (PEP 668: Noble's system pip is externally managed).
ENV VIRTUAL_ENV=/opt/cliport-venv
RUN python3 -m venv --system-site-packages "${VIRTUAL_ENV}"
ENV PATH=/opt/cliport-venv/bin:${PATH}
WORKDIR /cliport
COPY requirements/ requirements/
# torch first and pinned (requirements/torch.txt, as `make setup` does), here the CPU build
# from the PyTorch CPU index: 2.14.1+cpu satisfies the constraint torch==2.14.1 (a local
# version label is ignored by ==) and pulls none of the nvidia-* wheels. The build fails if a
# CUDA build got in. Then requirements/base.txt, all under requirements/constraints.txt
# (open_clip_torch finds torch installed). No `pip check`: with --system-site-packages it would
# also judge Noble's apt Python packages. numpy 2 (constraints.txt) shadows Noble's numpy 1.26
# in the venv: fine, we never import cv_bridge (see docker/robot.Dockerfile).
RUN pip install --no-cache-dir \
      --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple \
      -r requirements/torch.txt -c requirements/constraints.txt \
 && python -c "import torch; assert torch.version.cuda is None, torch.__version__" \
 && pip install --no-cache-dir -r requirements/base.txt -c requirements/constraints.txt \
 && python -c "import torch, torchvision, open_clip, numpy; print(torch.__version__, numpy.__version__)"

# Our packages with colcon, run on the venv's python so the installed executables
# (lib/<package>/*) have the venv in their shebang and cliport_msgs' Python typesupport is
# built for the venv's python and numpy.
COPY ros2_ws/src/ ros2_ws/src/
WORKDIR /cliport/ros2_ws
RUN . /opt/ros/jazzy/setup.bash \
 && python "$(command -v colcon)" build \
      --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DPython3_EXECUTABLE="${VIRTUAL_ENV}/bin/python" \
 && rm -rf build log \
 && . install/setup.bash \
 && python -c "import torch, open_clip, rclpy, cliport_policy; from cliport_msgs.msg import Heightmap"

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/cliport-entrypoint
WORKDIR /cliport
ENTRYPOINT ["/usr/local/bin/cliport-entrypoint"]
CMD ["bash"]
