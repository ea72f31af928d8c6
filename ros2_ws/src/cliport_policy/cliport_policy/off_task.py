"""Whether a checkpoint is used off its training tasks: a warning for cliport-eval and the
policy node. Variants of one task family (seen / unseen / full colours) count as the same
task: evaluating a seen-colours model on unseen colours is the paper's protocol."""

from __future__ import annotations

from collections.abc import Sequence


def _families(tasks: Sequence[str]) -> set[str]:
    from cliport_sim.tasks import task_family

    return {task_family(t) for t in tasks}


def task_warning(task: str, train_tasks: Sequence[str]) -> str | None:
    """A warning when ``task`` is none of ``train_tasks``' families (None: it is, or the
    checkpoint does not say what it was trained on)."""
    if not train_tasks or _families([task]) & _families(train_tasks):
        return None
    return (f"the checkpoint was trained on {', '.join(train_tasks)}, not on {task}: expect "
            f"its decisions to be poor")


def instruction_warning(instruction: str, train_tasks: Sequence[str]) -> str | None:
    """A warning when ``instruction`` fits the template of no task the checkpoint was
    trained on (None: it does, or the checkpoint does not say)."""
    from cliport_sim.tasks import tasks_for_instruction

    if not train_tasks:
        return None
    fits = tasks_for_instruction(instruction)
    if _families(fits) & _families(train_tasks):
        return None
    what = (f"an instruction of {', '.join(sorted(_families(fits)))}" if fits
            else "not an instruction of any known task")
    return (f"{instruction!r} is {what}; the checkpoint was trained on "
            f"{', '.join(train_tasks)}: expect its decisions to be poor")


def checkpoint_train_tasks(path) -> list[str]:
    """The tasks a checkpoint says it was trained on (``extra.train_tasks``; [] if none)."""
    from cliport_policy.checkpoint import read_checkpoint

    extra = read_checkpoint(path).get("extra") or {}
    return [str(t) for t in extra.get("train_tasks") or []]
