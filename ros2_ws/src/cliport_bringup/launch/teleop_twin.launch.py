"""``ros2 launch cliport_bringup teleop_twin.launch.py``: record demos by hand on the Franka
twin (twin node, perception on its camera, the teleop recorder for a parallel gripper).

The nodes come from ``config/graphs/teleop_twin.yaml``, shared with ``cliport-run``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("teleop_twin")
