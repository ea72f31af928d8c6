"""``ros2 launch cliport_bringup dryrun.launch.py``: the executor with the dry-run backend.

The nodes come from ``config/graphs/executor_dryrun.yaml``, shared with ``cliport-run``.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("executor_dryrun")
