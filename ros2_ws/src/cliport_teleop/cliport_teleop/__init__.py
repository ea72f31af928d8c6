"""Teleop demo recording (pure-Python core; the ROS node is in ``nodes/``).

An operator clicks pick and place on the live colormap in a web page; the recorder sends
``PickPlace`` goals and records accepted steps as episodes in the sim demos' dataset format
(``cliport_sim.dataset``: atomic episode files, an fsync'd index), so training uses both.
"""
