"""Warnings for a checkpoint used off its training tasks (cliport-eval, the policy node)."""

from __future__ import annotations

from cliport_policy.off_task import instruction_warning, task_warning

PBIB = ["put-block-in-bowl-seen-colors"]


def test_another_task_family_is_warned_about_its_variants_are_not():
    assert task_warning("put-block-in-bowl-unseen-colors", PBIB) is None  # the paper's test
    warning = task_warning("stack-block-pyramid-seq-seen-colors", PBIB)
    assert "trained on put-block-in-bowl-seen-colors, not on stack-block-pyramid" in warning
    assert task_warning("align-rope", []) is None  # the checkpoint does not say


def test_instructions_of_other_tasks_are_warned_about():
    assert instruction_warning("put the red blocks in a green bowl", PBIB) is None
    warning = instruction_warning("put the red block on the lightest brown block", PBIB)
    assert "an instruction of stack-block-pyramid-seq" in warning
    assert "not an instruction of any known task" in instruction_warning("dance", PBIB)
    assert instruction_warning("dance", []) is None


def test_the_shipped_checkpoint_says_what_it_was_trained_on():
    from cliport_perception.sources.calibration_file import resolve_file
    from cliport_policy.off_task import checkpoint_train_tasks

    shipped = resolve_file("package://cliport_policy/models/put-block-in-bowl-tiny.ckpt")
    assert checkpoint_train_tasks(shipped) == PBIB
