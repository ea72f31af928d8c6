"""rclpy glue for the backends: blocking action/service calls, the Franka gripper and error
recovery clients. The only executor modules besides ``nodes/`` that import rclpy."""
