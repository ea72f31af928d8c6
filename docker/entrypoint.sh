#!/bin/bash
# Entrypoint of the robot and policy images: the ROS 2 Jazzy environment, then our colcon
# workspace (its setup.bash chains the workspaces it was built on, e.g. /opt/franka_ws), then
# the command. The venv is already first on PATH (ENV in the Dockerfiles).
set -e
# shellcheck disable=SC1091
source /opt/ros/jazzy/setup.bash
# shellcheck disable=SC1091
source /cliport/ros2_ws/install/setup.bash
exec "$@"
