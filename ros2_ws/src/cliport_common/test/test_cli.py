"""The shared CLI behaviour: one-line errors with exit code 2, suggestions for typos."""

from __future__ import annotations

import pytest

from cliport_common.cli import did_you_mean, one_line_errors
from cliport_common.config import ConfigError


def test_did_you_mean_names_the_closest():
    known = ["put-block-in-bowl-seen-colors", "align-rope", "packing-shapes"]
    assert did_you_mean("put-block-in-bowl-seen-color", known) == (
        "; did you mean put-block-in-bowl-seen-colors?")
    assert did_you_mean("zzz", known) == ""


def test_config_errors_and_the_named_ones_are_one_line_rc_2(capsys):
    class Broken(RuntimeError):
        pass

    @one_line_errors("cliport-x", Broken)
    def main(argv=None):
        if argv == ["config"]:
            raise ConfigError("policy.yaml: unknown key 'stpes'\n(did you mean steps?)")
        if argv == ["broken"]:
            raise Broken("ckpt: truncated")
        if argv == ["bug"]:
            raise KeyError("a bug stays a traceback")
        return 0

    assert main([]) == 0
    assert main(["config"]) == 2
    assert capsys.readouterr().err == (
        "cliport-x: error: policy.yaml: unknown key 'stpes' (did you mean steps?)\n")
    assert main(["broken"]) == 2
    assert capsys.readouterr().err == "cliport-x: error: ckpt: truncated\n"
    with pytest.raises(KeyError):
        main(["bug"])


def test_a_config_key_typo_names_the_key_it_probably_meant():
    from dataclasses import dataclass

    from cliport_common.config import from_dict

    @dataclass
    class Train:
        steps: int = 1
        lr: float = 0.1

    with pytest.raises(ConfigError, match=r"unknown keys \['stpes'\]; 'stpes': did you mean "
                                          r"steps\?; known: \['lr', 'steps'\]"):
        from_dict(Train, {"stpes": 3}, where="tiny.yaml.train")
