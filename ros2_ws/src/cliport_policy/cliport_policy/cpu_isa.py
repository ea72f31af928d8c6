"""The CPU's vector instruction sets, detected at run time, and the compute precision chosen
from them: bf16 autocast where the CPU computes bf16 natively (AVX512_BF16 or AMX), fp32
elsewhere, unless the configuration asks for one.

Why: native bf16 roughly doubles the convolutions' rate, while on other CPUs it is emulated
and slower than fp32 (docs/notes/cpu-isa.md).

``train.precision`` (training), ``cliport-eval --precision`` and the policy node's
``precision`` (acting) take ``auto``, ``fp32`` or ``bf16``. ``CLIPORT_PRECISION`` in the
environment (``fp32`` or ``bf16``) decides what ``auto`` means; an explicit value wins over
it. No oneDNN ISA cap is needed on any CPU known (``ONEDNN_CAPS``): the one kernel fault found
is avoided in the model (``models.resnet.SubsampledConv1x1``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16")
ENV_PRECISION = "CLIPORT_PRECISION"
ONEDNN_VARIABLE = "ONEDNN_MAX_CPU_ISA"
# oneDNN ISA caps under which its kernels still compute bf16 natively; any other cap (AVX2,
# AVX512_CORE, ...) leaves bf16 emulated, far slower than fp32
ONEDNN_BF16_CAPS = ("DEFAULT", "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16",
                    "AVX512_CORE_AMX", "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16",
                    "AVX10_1_512_AMX_FP16")
# The ONEDNN_MAX_CPU_ISA training needs, by CpuIsa.name, where a kernel fault is proven and
# not avoided in the model; empty: none (docs/notes/cpu-isa.md)
ONEDNN_CAPS: dict[str, str] = {}


class PrecisionError(ValueError):
    """A precision that is not one of :data:`PRECISIONS`."""


@dataclass(frozen=True)
class CpuIsa:
    """The vector instruction sets a CPU offers (from its ``/proc/cpuinfo`` flags)."""

    avx2: bool = False
    avx512: bool = False  # AVX-512 F, BW and VL (oneDNN's AVX512_CORE)
    avx512_bf16: bool = False
    amx: bool = False  # AMX tiles with bf16 (amx_tile and amx_bf16)

    @property
    def native_bf16(self) -> bool:
        return self.avx512_bf16 or self.amx

    @property
    def name(self) -> str:
        """The best of: amx, avx512_bf16, avx512, avx2, baseline."""
        for name in ("amx", "avx512_bf16", "avx512", "avx2"):
            if getattr(self, name):
                return name
        return "baseline"


@dataclass(frozen=True)
class Choice:
    """The precision to compute in, and why; the oneDNN cap training sets (None: none)."""

    isa: CpuIsa
    requested: str  # auto | fp32 | bf16, as configured
    precision: str  # fp32 | bf16
    reason: str
    onednn_cap: str | None = None

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"


def parse_flags(cpuinfo: str) -> frozenset[str]:
    """The first ``flags`` line of a ``/proc/cpuinfo`` text, as a set."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def detect(flags: frozenset[str] | set[str] | None = None) -> CpuIsa:
    """The instruction sets in ``flags`` (default: this machine's; where ``/proc/cpuinfo``
    is missing, torch's own view, which tells AVX-512 but not bf16)."""
    if flags is None:
        return _this_cpu()
    return CpuIsa(avx2="avx2" in flags,
                  avx512={"avx512f", "avx512bw", "avx512vl"} <= set(flags),
                  avx512_bf16="avx512_bf16" in flags,
                  amx={"amx_tile", "amx_bf16"} <= set(flags))


@functools.lru_cache(maxsize=1)
def _this_cpu() -> CpuIsa:
    path = Path("/proc/cpuinfo")
    if path.is_file():
        return detect(parse_flags(path.read_text()))
    import torch

    cap = torch.backends.cpu.get_cpu_capability()  # "AVX512", "AVX2", "DEFAULT", ...
    return CpuIsa(avx2=cap in ("AVX2", "AVX512"), avx512=cap == "AVX512")


def check_precision(value: str, where: str = "precision") -> str:
    """``value`` if it is one of :data:`PRECISIONS`, else a one-line :class:`PrecisionError`."""
    if value not in PRECISIONS:
        raise PrecisionError(f"{where} must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


def choose(requested: str = "auto", device: str = "cpu", isa: CpuIsa | None = None,
           env: Mapping[str, str] | None = None) -> Choice:
    """The precision for ``device`` ("cpu", "cuda", ...): ``requested`` if explicit; for
    ``auto``, ``CLIPORT_PRECISION`` if set, else bf16 on a CUDA GPU or a CPU with native
    bf16 that oneDNN may use (no ``ONEDNN_MAX_CPU_ISA`` below it), fp32 elsewhere.
    ``isa`` and ``env`` default to this machine's (tests pass fakes)."""
    check_precision(requested)
    env = os.environ if env is None else env
    isa = detect() if isa is None else isa
    cap = ONEDNN_CAPS.get(isa.name)
    if requested != "auto":
        return Choice(isa, requested, requested, "configured", cap)
    forced = env.get(ENV_PRECISION, "")
    if forced:
        check_precision(forced, ENV_PRECISION)
        if forced != "auto":
            return Choice(isa, requested, forced, f"{ENV_PRECISION}={forced}", cap)
    if device.split(":")[0] != "cpu":
        return Choice(isa, requested, "bf16", f"auto: {device} computes bf16 natively", cap)
    user_cap = env.get(ONEDNN_VARIABLE, "").upper()
    if not isa.native_bf16:
        return Choice(isa, requested, "fp32", f"auto: {isa.name} has no native bf16", cap)
    if user_cap and user_cap not in ONEDNN_BF16_CAPS:
        return Choice(isa, requested, "fp32",
                      f"auto: {ONEDNN_VARIABLE}={user_cap} rules out oneDNN's bf16 kernels", cap)
    return Choice(isa, requested, "bf16", f"auto: {isa.name} computes bf16 natively", cap)


def autocast(precision: str, device: str = "cpu") -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision`` "bf16"; nothing for "fp32"."""
    import torch

    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)


def full_precision(x) -> contextlib.AbstractContextManager:
    """fp32 inside an autocast region, on ``x``'s device (with ``x.float()`` as input): for
    the logit layers, whose bf16 rounding (8 bits) makes near-ties in the argmax."""
    import torch

    return torch.autocast(x.device.type, enabled=False)


def limit_for_training(choice: Choice | None = None) -> str | None:
    """Set the oneDNN cap this CPU's training needs (``choice.onednn_cap``; none on any CPU
    known) unless ``ONEDNN_MAX_CPU_ISA`` is set; returns the value in force or None.

    oneDNN reads the variable once, at its first primitive: call this before the process's
    first convolution."""
    cap = (choice or choose()).onednn_cap
    if cap:
        return os.environ.setdefault(ONEDNN_VARIABLE, cap)
    return os.environ.get(ONEDNN_VARIABLE)
