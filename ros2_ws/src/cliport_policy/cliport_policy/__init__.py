"""cliport_policy: the two-stream CLIPort policy (see this package's README).

OpenMP threads that wait *passively* (sleep instead of spinning) must be chosen before torch
loads libgomp, so it is set here, first. With the default (spinning) policy, two torch
threads on two cores shared with other work collapse: a tiny act() took 10-19 s instead of
0.87 s while a training run shared the machine. An explicit setting by the user wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
