# syntax=docker/dockerfile:1
# The policy image, CUDA: apt ROS 2 Jazzy (ros-base) + a venv with the CUDA torch wheels from
# PyPI, our Python dependencies and our packages. Runs `policy_node` with device:=cuda (the
# `policy` service of docker/compose.yaml) and cliport-train / cliport-eval on a GPU.
#
# Why the ROS image + pip CUDA wheels, not nvidia/cuda:12.x-runtime-ubuntu24.04 + apt ROS:
# torch==2.14.1 from PyPI brings its own CUDA user-space libraries as wheels (nvidia-* and
# cuda-toolkit, CUDA 13, pinned in requirements/constraints.txt). A CUDA base image would add
# a second, different CUDA (12.x) that torch does not use, and we would have to apt-install ROS
# ourselves instead of starting from the official ROS image. All the container needs from the
# host is the NVIDIA driver, passed in by the NVIDIA Container Toolkit (`--gpus all`, or
# deploy.resources.reservations.devices in compose). CUDA 13 needs a host driver >= 580.
#
# Build from the repository root:
#   docker build -f docker/policy-cuda.Dockerfile -t cliport-ros:policy-cuda .
# Run (host: NVIDIA driver + NVIDIA Container Toolkit):
#   docker run --rm --gpus all cliport-ros:policy-cuda python -c "import torch; print(torch.cuda.is_available())"
# Not built in CI (no Docker engine there): linted with hadolint, checked by tests/test_docker.py.
FROM ros:jazzy-ros-base

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# NVIDIA_*: read by the NVIDIA Container Toolkit (which devices, which driver libraries).
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    RMW_IMPLEMENTATION=rmw_fastrtps_cpp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Same apt layer as docker/policy.Dockerfile.
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

# A venv with --system-site-packages (PEP 668 on Noble; apt's rclpy stays importable).
ENV VIRTUAL_ENV=/opt/cliport-venv
RUN python3 -m venv --system-site-packages "${VIRTUAL_ENV}"
ENV PATH=/opt/cliport-venv/bin:${PATH}
WORKDIR /cliport
COPY requirements/ requirements/
# torch first and pinned (requirements/torch.txt), from PyPI: the normal CUDA wheels, with the
# nvidia-* / cuda-* wheels pinned by requirements/constraints.txt. The build fails if a CPU-only
# build got in (no GPU is needed to build). Then requirements/base.txt under the constraints.
# numpy 2 shadows Noble's numpy 1.26 in the venv: fine, we never import cv_bridge (see
# docker/robot.Dockerfile).
RUN pip install --no-cache-dir -r requirements/torch.txt -c requirements/constraints.txt \
 && python -c "import torch; assert torch.version.cuda, torch.__version__; print('CUDA', torch.version.cuda)" \
 && pip install --no-cache-dir -r requirements/base.txt -c requirements/constraints.txt \
 && python -c "import torch, torchvision, open_clip, numpy; print(torch.__version__, numpy.__version__)"

# Our packages with colcon on the venv's python (see docker/policy.Dockerfile).
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
