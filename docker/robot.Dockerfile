# syntax=docker/dockerfile:1
# The real-robot image: apt ROS 2 Jazzy + MoveIt (incl. moveit_py) + realsense2_camera +
# tf2_ros, franka_ros2 (and libfranka) built from source, and our packages built with colcon
# on a venv that sees the apt ROS Python packages. It runs the Franka driver, MoveIt, the
# executor (moveit backend, moveit_py in-process), perception and the RealSense driver (the
# `robot` and `camera` services of docker/compose.yaml). It does NOT run the policy: no torch.
#
# Build from the repository root:
#   docker build -f docker/robot.Dockerfile -t cliport-ros:robot .
# RViz variant (same stack on the desktop image):
#   docker build -f docker/robot.Dockerfile --build-arg ROS_BASE_IMAGE=osrf/ros:jazzy-desktop \
#     -t cliport-ros:robot-desktop .
# Not built in CI (no Docker engine there): linted with hadolint, checked by tests/test_docker.py.
#
# franka_ros2 facts (docs/design.md#franka-versions): Jazzy has no bloom release, so it is
# built from source; franka_ros2 v3.x needs libfranka >= 0.15.0, v3.4.0 (the `jazzy` head at
# the time of writing) needs libfranka >= 0.20.4 and franka_description >= 2.8.0. Its
# dependency.repos pins libfranka (0.20.5 at v3.4.0); the build below fails if the pinned
# libfranka is older than LIBFRANKA_MIN_VERSION. libfranka >= 0.10 needs robot system
# >= 5.2.0: an FR3. A Panda (FER, libfranka 0.9.x) cannot be driven by this image.
ARG ROS_BASE_IMAGE=ros:jazzy-ros-base
FROM ${ROS_BASE_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    RMW_IMPLEMENTATION=rmw_fastrtps_cpp

# apt ROS packages: MoveIt 2 (metapackage: move_group, OMPL, Pilz, RViz plugins), moveit_py
# (the executor's moveit backend), the RealSense ROS driver, tf2_ros (C++ and Python), and the
# build tools for the two colcon workspaces. python3-venv: Noble's python3 has no ensurepip
# without it; python3-dev: Python.h for the rosidl Python typesupport of cliport_msgs and for
# any sdist the pip step has to build.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential \
      cmake \
      git \
      python3-colcon-common-extensions \
      python3-dev \
      python3-rosdep \
      python3-vcstool \
      python3-venv \
      ros-jazzy-moveit \
      ros-jazzy-moveit-py \
      ros-jazzy-pilz-industrial-motion-planner \
      ros-jazzy-realsense2-camera \
      ros-jazzy-realsense2-description \
      ros-jazzy-tf2-ros \
      ros-jazzy-tf2-ros-py \
      ros-jazzy-xacro \
 && rm -rf /var/lib/apt/lists/*

# franka_ros2 from source: the `jazzy` branch by default (pass
# --build-arg FRANKA_ROS2_VERSION=v3.4.0 for a reproducible build), its dependency.repos
# (libfranka, franka_description, ros2_control, ...) imported with submodules, rosdep for the
# packages we build, then colcon. Only what the stack needs is built (driver, gripper,
# messages, MoveIt config, bringup) plus their workspace dependencies.
ARG FRANKA_ROS2_VERSION=jazzy
ARG LIBFRANKA_MIN_VERSION=0.20.4
ARG FRANKA_PACKAGES="franka_bringup franka_fr3_moveit_config franka_gripper franka_msgs franka_hardware franka_robot_state_broadcaster franka_description"
WORKDIR /opt/franka_ws
# FRANKA_PACKAGES is a space-separated list, left unquoted on purpose (word splitting).
RUN git clone --depth 1 --branch "${FRANKA_ROS2_VERSION}" \
      https://github.com/frankarobotics/franka_ros2.git src/franka_ros2 \
 && vcs import --recursive --skip-existing src < src/franka_ros2/dependency.repos \
 && libfranka_version="$(git -C src/libfranka describe --tags --abbrev=0)" \
 && echo "franka_ros2 ${FRANKA_ROS2_VERSION}: libfranka ${libfranka_version}" \
 && if ! dpkg --compare-versions "${libfranka_version}" ge "${LIBFRANKA_MIN_VERSION}"; then \
      echo "error: libfranka ${libfranka_version} < ${LIBFRANKA_MIN_VERSION} (franka_ros2 compatibility matrix)" >&2; \
      exit 1; \
    fi \
 && . /opt/ros/jazzy/setup.bash \
 && apt-get update \
 && rosdep update --rosdistro jazzy \
 && colcon list --base-paths src --paths-only --packages-up-to ${FRANKA_PACKAGES} \
      | xargs rosdep install -y --rosdistro jazzy --ignore-src --from-paths \
 && rm -rf /var/lib/apt/lists/* \
 && colcon build --base-paths src --packages-up-to ${FRANKA_PACKAGES} \
      --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && rm -rf build log src /root/.ros

# Our Python environment: a venv created with --system-site-packages, so the apt ROS Python
# packages (rclpy, tf2_ros, moveit_py, message modules) stay importable while pip installs into
# the venv instead of the system (PEP 668: Noble's system pip is externally managed).
# requirements/base.txt under requirements/constraints.txt, as `make setup` does, but without
# torch: open_clip_torch is the only entry that pulls torch/torchvision (and timm), and the
# robot image does not run the policy, so it is filtered out; the build fails if torch got in.
# The ROS wheels of requirements/ros-jazzy.txt are not installed: apt provides ROS here.
#
# numpy in the ROS runtime: constraints.txt pins numpy 2, which shadows Noble's numpy 1.26 in
# this venv. That is fine because our image converter (cliport_perception.image_conversion)
# does not need cv_bridge: Jazzy's apt cv_bridge is built against numpy 1 and fails under
# numpy 2, so cv_bridge must not be imported in this image. The rosidl-generated message
# modules only read numpy arrays' struct fields (they never load numpy's C-API table), which
# is why apt-built messages work with numpy 2 (as the PyPI Jazzy wheels do in `make setup`).
# moveit_py gets ROS messages from us, never numpy arrays; keep it that way (its numpy
# conversions come from the pybind11 it was built with, possibly older than pybind11 2.12, the
# first with numpy-2 support; not verified).
ENV VIRTUAL_ENV=/opt/cliport-venv
RUN python3 -m venv --system-site-packages "${VIRTUAL_ENV}"
ENV PATH=/opt/cliport-venv/bin:${PATH}
WORKDIR /cliport
COPY requirements/ requirements/
RUN grep -v '^open_clip_torch' requirements/base.txt > /tmp/requirements-robot.txt \
 && pip install --no-cache-dir -r /tmp/requirements-robot.txt -c requirements/constraints.txt \
 && rm /tmp/requirements-robot.txt \
 && python -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch in the robot image'" \
 && . /opt/ros/jazzy/setup.bash \
 && python -c "import numpy, scipy, yaml, rclpy, tf2_ros; print('numpy', numpy.__version__)"

# Our packages with colcon on top of franka_ws: cliport_msgs is ament_cmake (rosidl), the others
# ament_python. colcon runs setup.py with the interpreter colcon itself runs on, so it is started
# with the venv's python: the installed executables (lib/<package>/*) then have the venv in
# their shebang, and cliport_msgs' Python typesupport is built for the venv's python and numpy.
# CLIPORT_WITH_FRANKA=1 enables cliport_executor's MoveIt/Franka exec_depends.
ENV CLIPORT_WITH_FRANKA=1
COPY ros2_ws/src/ ros2_ws/src/
WORKDIR /cliport/ros2_ws
RUN . /opt/franka_ws/install/setup.bash \
 && python "$(command -v colcon)" build \
      --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DPython3_EXECUTABLE="${VIRTUAL_ENV}/bin/python" \
 && rm -rf build log \
 && . install/setup.bash \
 && python -c "from cliport_msgs.action import PickPlace; import franka_msgs.action, cliport_common, cliport_executor, cliport_perception"

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/cliport-entrypoint
WORKDIR /cliport
ENTRYPOINT ["/usr/local/bin/cliport-entrypoint"]
CMD ["bash"]
