"""ROS message conversions of the policy's outputs (message packages only, no rclpy)."""
