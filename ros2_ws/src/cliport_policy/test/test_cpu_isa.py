"""cpu_isa: the precision chosen from the CPU's instruction sets (detection faked for each
kind of CPU), overrides, no oneDNN cap, and a bf16 training step that agrees with fp32."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from cliport_common.config import ConfigError
from cliport_policy import cpu_isa
from cliport_policy.agents import image_tensor
from cliport_policy.config import TrainConfig

BASE = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi2"
# Flag sets of four kinds of CPU, as /proc/cpuinfo lists them (abridged)
AVX2_EPYC = f"{BASE} avx2"
ZEN4_EPYC = f"{AVX2_EPYC} avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni"
AMX_XEON = (f"{AVX2_EPYC} avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 "
            "amx_bf16 amx_tile amx_int8")
SKYLAKE_XEON = f"{AVX2_EPYC} avx512f avx512dq avx512cd avx512bw avx512vl"
SHIPPED = "package://cliport_policy/models/put-block-in-bowl-tiny.ckpt"
COLOURS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0))


def isa(flags: str) -> cpu_isa.CpuIsa:
    return cpu_isa.detect(cpu_isa.parse_flags(f"processor\t: 0\nflags\t\t: {flags}\n"))


@pytest.mark.parametrize("flags,name,precision", [
    (AVX2_EPYC, "avx2", "fp32"),
    (SKYLAKE_XEON, "avx512", "fp32"),
    (ZEN4_EPYC, "avx512_bf16", "bf16"),
    (AMX_XEON, "amx", "bf16"),
    (BASE, "baseline", "fp32"),
])
def test_auto_takes_bf16_where_the_cpu_computes_it_natively(flags, name, precision):
    cpu = isa(flags)
    assert cpu.name == name
    choice = cpu_isa.choose("auto", "cpu", cpu, env={})
    assert choice.precision == precision
    assert choice.onednn_cap is None  # no blanket cap on any of them
    assert name in choice.reason


@pytest.mark.parametrize("flags", [AVX2_EPYC, ZEN4_EPYC, AMX_XEON])
@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_a_configured_precision_wins(flags, requested):
    env = {cpu_isa.ENV_PRECISION: "fp32" if requested == "bf16" else "bf16"}
    assert cpu_isa.choose(requested, "cpu", isa(flags), env=env).precision == requested


def test_the_environment_decides_auto_only():
    env = {cpu_isa.ENV_PRECISION: "fp32"}
    assert cpu_isa.choose("auto", "cpu", isa(AMX_XEON), env=env).precision == "fp32"
    env = {cpu_isa.ENV_PRECISION: "bf16"}
    assert cpu_isa.choose("auto", "cpu", isa(AVX2_EPYC), env=env).precision == "bf16"


def test_a_users_onednn_cap_below_bf16_means_fp32():
    env = {cpu_isa.ONEDNN_VARIABLE: "AVX2"}
    assert cpu_isa.choose("auto", "cpu", isa(ZEN4_EPYC), env=env).precision == "fp32"
    env = {cpu_isa.ONEDNN_VARIABLE: "avx512_core_amx"}
    assert cpu_isa.choose("auto", "cpu", isa(AMX_XEON), env=env).precision == "bf16"


def test_a_gpu_takes_bf16():
    assert cpu_isa.choose("auto", "cuda:0", isa(AVX2_EPYC), env={}).precision == "bf16"


def test_bad_precisions_are_refused_in_one_line():
    with pytest.raises(cpu_isa.PrecisionError, match="precision must be one of"):
        cpu_isa.choose("fp16")
    with pytest.raises(cpu_isa.PrecisionError, match=cpu_isa.ENV_PRECISION):
        cpu_isa.choose("auto", env={cpu_isa.ENV_PRECISION: "half"})
    with pytest.raises(ConfigError, match="train.precision"):
        TrainConfig(precision="fp16")


def test_this_machine_is_detected():
    cpu = cpu_isa.detect()
    if os.path.isfile("/proc/cpuinfo") and torch.backends.cpu.get_cpu_capability() == "AVX512":
        assert cpu.avx512


def test_training_sets_no_onednn_cap_and_keeps_a_users(monkeypatch):
    monkeypatch.delenv(cpu_isa.ONEDNN_VARIABLE, raising=False)
    for flags in (AVX2_EPYC, ZEN4_EPYC, AMX_XEON):
        choice = cpu_isa.choose("auto", "cpu", isa(flags), env={})
        assert cpu_isa.limit_for_training(choice) is None
    assert cpu_isa.ONEDNN_VARIABLE not in os.environ
    monkeypatch.setenv(cpu_isa.ONEDNN_VARIABLE, "AVX512_CORE")
    assert cpu_isa.limit_for_training() == "AVX512_CORE"


def _step(agent, batch, precision: str) -> tuple[list[float], dict[str, torch.Tensor]]:
    img, text, pick, place, rot = batch
    agent.zero_grad(set_to_none=True)
    with cpu_isa.autocast(precision):
        lp, lq = agent.losses(img, text, pick, place, torch.zeros_like(rot), rot)
    (lp + lq).backward()
    grads = {name: torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
             for name, net in (("attention", agent.attention), ("transport", agent.transport))}
    return [float(lp.detach()), float(lq.detach())], grads


def test_a_bf16_step_agrees_with_fp32():
    """The shipped (trained) tiny model, one batch, the same weights: each loss within 2 % of
    fp32's, each network's gradient within 0.999 cosine of fp32's and its norm within 5 %.

    A trained model, because at init the near-uniform logits make the transport's fusion-conv
    gradients a sum of cancelling terms that half a colour level of noise moves in fp32 too
    (docs/notes/cpu-isa.md)."""
    from cliport_perception.sources.calibration_file import resolve_file
    from cliport_policy.checkpoint import load_agent

    agent = load_agent(resolve_file(SHIPPED)).train()
    rng = np.random.default_rng(0)
    color = np.full((2, 160, 80, 3), 120, np.uint8)  # a grey table with four blocks each
    height = np.zeros((2, 160, 80), np.float32)
    for b, r, c, k in zip(np.repeat([0, 1], 4), rng.integers(8, 150, 8),
                          rng.integers(8, 70, 8), np.tile(np.arange(4), 2), strict=True):
        color[b, r - 8:r + 8, c - 8:c + 8] = COLOURS[k]
        height[b, r - 8:r + 8, c - 8:c + 8] = 0.04
    batch = (image_tensor(color, height),
             ["put the red block in the blue bowl", "put the green block in the yellow bowl"],
             torch.tensor([[40, 20], [100, 60]]), torch.tensor([[120, 30], [30, 50]]),
             torch.tensor([3, 7]))
    losses32, grads32 = _step(agent, batch, "fp32")
    losses16, grads16 = _step(agent, batch, "bf16")
    assert losses16 == pytest.approx(losses32, rel=0.02)
    for name, g32 in grads32.items():
        g16 = grads16[name]
        assert float(torch.nn.functional.cosine_similarity(g32, g16, dim=0)) > 0.999, name
        assert float(g16.norm() / g32.norm()) == pytest.approx(1.0, abs=0.05), name


def test_acting_in_bf16_decides_as_fp32():
    """The shipped model on a scene of four blocks: the same pick and place cells (within
    one) and bins at bf16 as at fp32, whatever CLIPORT_PRECISION says."""
    from cliport_perception.sources.calibration_file import resolve_file
    from cliport_policy.checkpoint import load_agent

    agent = load_agent(resolve_file(SHIPPED))
    color = np.full((320, 160, 3), 120, np.uint8)
    height = np.zeros((320, 160), np.float32)
    for k, (r, c) in enumerate(((60, 40), (250, 120), (160, 30), (100, 130))):
        color[r - 8:r + 8, c - 8:c + 8] = COLOURS[k]
        height[r - 8:r + 8, c - 8:c + 8] = 0.04
    decisions = {}
    for precision in ("fp32", "bf16"):
        agent.precision = precision
        decisions[precision] = agent.act(color, height, "put the red block in the blue bowl")
    for a, b in ((decisions["fp32"].pick, decisions["bf16"].pick),
                 (decisions["fp32"].place, decisions["bf16"].place)):
        assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= 1 and a[2] == b[2], decisions
