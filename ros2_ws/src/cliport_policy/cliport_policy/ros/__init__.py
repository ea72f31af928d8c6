"""The policy's ROS side: message conversions of its outputs (``messages``: message
packages only, no rclpy) and the policy node's ``PickPlace`` goals (``pick_place_goals``)."""
