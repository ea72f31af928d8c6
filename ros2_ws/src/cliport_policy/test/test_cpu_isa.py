"""cpu_isa: training caps oneDNN at AVX2 unless the user chose an ISA."""

from __future__ import annotations

from cliport_policy import cpu_isa


def test_training_caps_onednn_at_avx2(monkeypatch):
    monkeypatch.delenv(cpu_isa.VARIABLE, raising=False)
    assert cpu_isa.limit_for_training() == "AVX2"
    import os

    assert os.environ[cpu_isa.VARIABLE] == "AVX2"


def test_a_users_choice_wins(monkeypatch):
    monkeypatch.setenv(cpu_isa.VARIABLE, "AVX512_CORE")
    assert cpu_isa.limit_for_training() == "AVX512_CORE"
