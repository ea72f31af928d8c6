"""``ros2 launch cliport_bringup sim_policy.launch.py``: the sim stack driven by the policy.

The sim node, perception and the policy node in execute mode, from
``config/graphs/sim_policy.yaml`` (shared with ``cliport-run sim_policy``). Then
``ros2 topic pub --once /instruction std_msgs/String "data: 'put the blue blocks in a brown
bowl'"`` makes one step, or ``cliport-sim-loop --policy cliport`` runs whole episodes.
"""

from cliport_bringup.launch_description import generate_from_graph


def generate_launch_description():
    return generate_from_graph("sim_policy")
