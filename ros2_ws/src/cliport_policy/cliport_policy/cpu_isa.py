"""Training on a CPU uses oneDNN's AVX2 kernels, also on AVX-512 machines.

Why: torch 2.14.1's AVX-512 backward kernels corrupted the heap for this model
(docs/notes/cpu-isa.md). Acting keeps the faster kernels; its outputs agree.

oneDNN reads ``ONEDNN_MAX_CPU_ISA`` once, at its first primitive, so
:func:`limit_for_training` must run before the process's first convolution (the training
entry points, the test conftest and ``bench policy_train`` call it first). A value the user
set wins; on AVX2 machines the limit changes nothing.
"""

from __future__ import annotations

import os

TRAINING_ISA = "AVX2"
VARIABLE = "ONEDNN_MAX_CPU_ISA"


def limit_for_training() -> str:
    """Cap oneDNN at AVX2 unless ``ONEDNN_MAX_CPU_ISA`` is set; returns the value in force."""
    return os.environ.setdefault(VARIABLE, TRAINING_ISA)
