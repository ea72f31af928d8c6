"""rclpy helpers of cliport_bringup (the package's core modules never import rclpy)."""
