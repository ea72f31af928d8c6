"""ROS 2 nodes of the policy package (the only modules, with ``ros/``, that import rclpy)."""
