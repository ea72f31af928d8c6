"""``ros2 launch cliport_bringup teleop_sim.launch.py``: record demos by hand in the simulator.

The nodes come from ``config/graphs/teleop_sim.yaml``, shared with ``cliport-run``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("teleop_sim")
