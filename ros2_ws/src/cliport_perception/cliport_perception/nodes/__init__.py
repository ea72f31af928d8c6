"""Thin ROS 2 nodes of cliport_perception."""
