"""Franka (FR3 / Panda) through MoveIt: pose math, error recovery, the moveit_py arm.

``poses`` and ``recovery`` are pure and tested here; ``moveit_arm`` needs moveit_py and a
running franka_ros2 stack, imports them lazily, and is not hardware-verified.
"""
