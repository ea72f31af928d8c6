"""The Franka twin: a simulated Panda / FR3 with the Franka Hand, driven like the real rig.

:class:`~cliport_sim.franka.arm.FrankaArm` (IK, motions) and its
:class:`~cliport_sim.franka.hand.FrankaHand`; :mod:`cliport_sim.franka.motion` adapts them to
the executor's ``Motion`` / ``Tool`` interfaces. Settings: ``config/franka.yaml``.
"""

from cliport_sim.franka.arm import FrankaArm, Unreachable
from cliport_sim.franka.config import FrankaConfig, load_franka_config
from cliport_sim.franka.hand import FrankaHand

__all__ = ["FrankaArm", "FrankaConfig", "FrankaHand", "Unreachable", "load_franka_config"]
