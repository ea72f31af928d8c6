"""Checkpoints that are not ours: one line naming the file and what is wrong, nothing run.

Loading is ``torch.load(weights_only=True)``; torch's refusals advise ``weights_only=False``
(which runs whatever the file holds), so that advice must never reach the user.
"""

from __future__ import annotations

import pickle

import pytest
import torch

from cliport_policy.checkpoint import FORMAT, CheckpointError, main, read_checkpoint


class _Opens:
    """Unpickling it would create a file: proof of code run by the loader."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return open, (self.target, "w")


def _checkpoint_bytes(tmp_path) -> bytes:
    path = tmp_path / "real.ckpt"
    torch.save({"format": FORMAT, "step": 1, "model": {},
                "attention": {"w": torch.zeros(64, 64)}, "transport": {}}, path)
    return path.read_bytes()


def _write(tmp_path, kind: str):
    """The damaged file of ``kind``, and the file its payload would create if run."""
    marker = tmp_path / f"ran-{kind}"
    path = tmp_path / f"{kind}.ckpt"
    if kind == "random_bytes":
        path.write_bytes(bytes(range(7, 256)) * 8)
    elif kind == "text":
        path.write_text("put the red block in the blue bowl\n" * 20)
    elif kind == "truncated":
        data = _checkpoint_bytes(tmp_path)
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bare_pickle":
        path.write_bytes(pickle.dumps({"attention": _Opens(str(marker))}))
    elif kind == "disallowed_global":  # a real torch zip archive with code inside
        torch.save({"format": FORMAT, "attention": _Opens(str(marker))}, path)
    return path, marker


@pytest.mark.parametrize("kind, reason", [
    ("random_bytes", "not a zip archive"),
    ("text", "a text file, not the zip archive torch.save writes"),
    ("truncated", "truncated or damaged: a zip archive without its end"),
    ("empty", "the file is empty"),
    ("bare_pickle", "a bare pickle, not the zip archive torch.save writes"),
    ("disallowed_global", "open, which is never loaded"),  # io.open or builtins.open
])
def test_a_file_that_is_no_checkpoint_gets_one_line_and_no_unsafe_advice(tmp_path, kind,
                                                                         reason):
    path, marker = _write(tmp_path, kind)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable checkpoint: ") and reason in message
    assert "\n" not in message
    assert "weights_only" not in message.lower()
    # torch's own message (with its advice) is not chained into a traceback either
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not marker.exists()  # nothing in the file was run


def test_the_export_cli_reports_it_in_one_line(tmp_path, capsys):
    path, _ = _write(tmp_path, "disallowed_global")
    assert main([str(path), str(tmp_path / "out.ckpt")]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and path.name in out and "weights_only" not in out
    assert not (tmp_path / "out.ckpt").exists()


def test_a_real_checkpoint_still_loads(tmp_path):
    path = tmp_path / "real.ckpt"
    path.write_bytes(_checkpoint_bytes(tmp_path))
    assert read_checkpoint(path)["step"] == 1
