"""``ros2 launch cliport_bringup twin.launch.py``: the rehearsal of the real graph on the
Franka twin (twin node with the PickPlace server, perception, policy node).

The nodes come from ``config/graphs/twin.yaml``, shared with ``cliport-run twin``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("twin")
