"""The task registry holds the reference's names for all 10 language-conditioned families."""

import pytest

from cliport_sim.tasks import make_task, task_names

FAMILIES_WITH_COLORS = ("assembling-kits-seq", "packing-boxes-pairs", "put-block-in-bowl",
                        "separating-piles", "stack-block-pyramid-seq", "towers-of-hanoi-seq")
OTHERS = ("align-rope", "packing-shapes", "packing-seen-google-objects-seq",
          "packing-unseen-google-objects-seq", "packing-seen-google-objects-group",
          "packing-unseen-google-objects-group")


def test_every_reference_name_is_registered():
    want = {f"{f}-{s}-colors" for f in FAMILIES_WITH_COLORS for s in ("seen", "unseen", "full")}
    want |= set(OTHERS)
    assert set(task_names()) == want


@pytest.mark.parametrize(("family", "max_steps", "done"), [
    ("assembling-kits-seq", 5, "done assembling kit."),
    ("stack-block-pyramid-seq", 12, "done stacking block pyramid."),
    ("towers-of-hanoi-seq", 14, "solved towers of hanoi.")])
def test_every_colour_variant_and_mode_has_the_familys_steps_and_closing_words(
        family, max_steps, done):
    for split in ("seen", "unseen", "full"):
        name = f"{family}-{split}-colors"
        for mode in ("train", "val", "test"):
            task = make_task(name, mode)
            assert (task.name, task.max_steps, task.done_language) == (name, max_steps, done)


@pytest.mark.parametrize("name", ["put-block-in-bowl-seen-colors", "align-rope"])
def test_make_task_sets_name_and_mode(name):
    task = make_task(name, "val")
    assert task.name == name and task.mode == "val"


def test_unknown_names_and_modes_are_clear_errors():
    with pytest.raises(ValueError, match="unknown task 'put-the-block'"):
        make_task("put-the-block")
    with pytest.raises(ValueError, match="unknown mode"):
        make_task("align-rope", "eval")


def test_a_misspelt_task_gets_suggestions():
    from cliport_sim.tasks import UnknownTaskError

    with pytest.raises(UnknownTaskError, match="did you mean put-block-in-bowl-seen-colors"):
        make_task("put-block-in-bowl-seen-color", "test")


def test_instructions_are_matched_to_their_tasks_templates():
    from cliport_sim.tasks import task_family, tasks_for_instruction

    pbib = tasks_for_instruction("put the blue blocks in a brown bowl")
    assert "put-block-in-bowl-seen-colors" in pbib and "put-block-in-bowl-unseen-colors" in pbib
    assert {task_family(t) for t in pbib} == {"put-block-in-bowl"}
    assert {task_family(t) for t in tasks_for_instruction(
        "put the red block on the lightest brown block")} == {"stack-block-pyramid-seq"}
    assert tasks_for_instruction("make me a sandwich") == []


@pytest.mark.parametrize("prog, args", [
    ("cliport_sim.oracle_check", ["--task", "put-block-in-bowl-seen-color", "--seeds", "1"]),
    ("cliport_sim.demos", ["--task", "put-block-in-bowl-seen-color", "--mode", "train",
                           "--n", "1", "--out", "unused"]),
])
def test_every_task_cli_suggests_the_name_it_probably_meant(prog, args):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", prog, *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "error: unknown task 'put-block-in-bowl-seen-color'; did you mean " \
           "put-block-in-bowl-seen-colors" in last and "Traceback" not in r.stderr
