"""Training on a CPU uses oneDNN's AVX2 kernels, also on AVX-512 machines.

torch 2.14.1's oneDNN AVX-512 backward kernels are not safe for this model on an AVX-512
(+ AMX) Xeon: the 1x1 backward-weights kernel corrupted the heap for a strided, channels-
last convolution with few channels ("double free or corruption", segfaults; worked around
in :class:`~cliport_policy.models.resnet.SubsampledConv1x1`), and with that fixed the
tiny model still did not learn the five-demo overfit test (0 % train accuracy after 400
steps) where the same run under AVX2 kernels reached 100 %. Single-step gradients agreed
with torch's native kernels to 1e-3 relative. A later look on a Zen 4 EPYC found that 0 %
is a transport collapse (the key dead behind its fusion ReLU after a place-loss spike), a
chaotic event the kernels' rounding only decides: it hit that machine under AVX2 kernels
too, and gradient clipping (``train.clip_gradients``) prevents it under AVX-512 and AVX2
kernels alike. The cap stays for the heap corruption, which was not re-checked on an
AVX-512 Xeon.
Forward passes (acting) agree and keep the faster kernels.

oneDNN reads ``ONEDNN_MAX_CPU_ISA`` once, at its first primitive: :func:`limit_for_training`
only takes effect before the process's first convolution. The training loops call it
first (``train.train``, ``clip_pretrain.pretrain``: in a ``cliport-train`` or
``cliport-pretrain-clip`` process nothing convolves before), and so do the test suite's
conftest (every test process and its children) and ``bench policy_train``. A process that
acted before it trains keeps the kernels it started with. A value already set by the user
wins. On AVX2 machines the limit changes nothing.
"""

from __future__ import annotations

import os

TRAINING_ISA = "AVX2"
VARIABLE = "ONEDNN_MAX_CPU_ISA"


def limit_for_training() -> str:
    """Cap oneDNN at AVX2 unless ``ONEDNN_MAX_CPU_ISA`` is set; returns the value in force."""
    return os.environ.setdefault(VARIABLE, TRAINING_ISA)
