"""Frame names (REP-103/105) that several packages must agree on.

Goals, heightmaps and calibrations default to the arm's base frame; every package names it
through these constants, so a renamed frame cannot leave one package behind.
"""

from __future__ import annotations

BASE_FRAME = "base"  # the arm's base frame (z up, table top at z = 0): goals and heightmaps
FR3_BASE_FRAME = "fr3_link0"  # a Franka FR3's base link (the twin's and MoveIt's base frame)
