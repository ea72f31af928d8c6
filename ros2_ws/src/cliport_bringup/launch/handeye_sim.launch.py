"""``ros2 launch cliport_bringup handeye_sim.launch.py``: hand-eye calibration in the simulator.

The nodes come from ``config/graphs/handeye_sim.yaml``, shared with ``cliport-run``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("handeye_sim")
