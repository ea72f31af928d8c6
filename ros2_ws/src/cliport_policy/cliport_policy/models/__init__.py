"""Networks of the policy (torch only; no rclpy, no simulator)."""
