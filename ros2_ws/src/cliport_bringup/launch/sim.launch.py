"""``ros2 launch cliport_bringup sim.launch.py``: the simulated stack (sim node + perception).

The nodes come from ``config/graphs/sim.yaml``, shared with ``cliport-run sim``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("sim")
