"""Hand-eye calibration for the CLIPort stack (pure Python core; the node is in ``nodes/``).

Eye-to-hand (camera fixed over the table, board on the gripper: the CLIPort setup) and
eye-in-hand (camera on the flange, board on the table), solved with ``cv2.calibrateHandEye``
from ChArUco board poses and robot poses, written to ``calibration/<setup>.yaml``.
"""
