"""ROS-side helpers shared by the thin nodes of every package (these import rclpy)."""
