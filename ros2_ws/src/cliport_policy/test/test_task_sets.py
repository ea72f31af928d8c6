"""Task sets: the reference's set names and explicit lists resolve to the right tasks."""

from __future__ import annotations

import pytest

from cliport_policy.task_sets import TaskSetError, load_task_sets, resolve, set_names
from cliport_sim.tasks import task_names

FAMILIES_WITH_COLOURS = ("assembling-kits-seq", "packing-boxes-pairs", "put-block-in-bowl",
                         "stack-block-pyramid-seq", "separating-piles", "towers-of-hanoi-seq")


def test_multi_language_conditioned_trains_the_ten_tasks_on_seen_splits():
    ts = resolve("multi-language-conditioned")
    assert ts.kind == "multi" and ts.uniform and len(ts.train) == 10
    # the *-unseen-colors train sets hold seen colours: the paper's "multi" is trained on
    # seen splits; no full split and no 56-object google set is trained on
    # (docs/design.md#multitask-sampling)
    assert {f"{f}-unseen-colors" for f in FAMILIES_WITH_COLOURS} <= set(ts.train)
    assert {"align-rope", "packing-shapes", "packing-unseen-google-objects-seq",
            "packing-unseen-google-objects-group"} <= set(ts.train)
    assert not any("full" in t or "packing-seen-google" in t for t in ts.train)
    # evaluated on every variant: seen and unseen of each family, 18 in all
    assert len(ts.eval) == 18 and len(set(ts.eval)) == 18
    assert {f"{f}-{s}-colors" for f in FAMILIES_WITH_COLOURS for s in ("seen", "unseen")} \
        <= set(ts.eval)


def test_multi_attr_holds_the_task_out_to_its_seen_split():
    ts = resolve("multi-attr-put-block-in-bowl-unseen-colors")
    assert ts.kind == "multi-attr" and ts.eval == ("put-block-in-bowl-unseen-colors",)
    assert "put-block-in-bowl-seen-colors" in ts.train
    assert not any(t.startswith("put-block-in-bowl-") and t != "put-block-in-bowl-seen-colors"
                   for t in ts.train)
    assert {f"{f}-full-colors" for f in FAMILIES_WITH_COLOURS if f != "put-block-in-bowl"} \
        <= set(ts.train)
    assert len(ts.train) == 10
    weights = dict(zip(ts.train, ts.weights, strict=True))
    assert weights["put-block-in-bowl-seen-colors"] == pytest.approx(0.5)  # multi-attr
    assert all(w == pytest.approx(0.5 / 9) for t, w in weights.items()
               if t != "put-block-in-bowl-seen-colors")


def test_multi_attr_google_objects_never_train_on_the_same_kind_of_seen_set():
    """The seen-objects sets hold the unseen objects too: the held-out kind's seen set is
    dropped and the other kind's is weighted instead, as in the reference."""
    ts = resolve("multi-attr-packing-unseen-google-objects-seq")
    assert "packing-seen-google-objects-seq" not in ts.train and len(ts.train) == 9
    weights = dict(zip(ts.train, ts.weights, strict=True))
    assert weights["packing-seen-google-objects-group"] == pytest.approx(0.5)


def test_multi_attr_without_a_seen_split_drops_the_task_and_samples_uniformly():
    ts = resolve("multi-attr-align-rope")
    assert "align-rope" not in ts.train and len(ts.train) == 9 and ts.uniform
    assert ts.eval == ("align-rope",)


def test_every_set_resolves_to_registered_tasks():
    registered = set(task_names())
    names = set_names()
    assert len(names) == 1 + 10  # multi-language-conditioned + one multi-attr per task
    for name in names:
        ts = resolve(name)
        assert set(ts.train) <= registered and set(ts.eval) <= registered
        assert sum(ts.weights) == pytest.approx(1.0)
        if ts.kind == "multi-attr":
            assert not set(ts.eval) & set(ts.train), name  # the held-out task is held out


def test_explicit_lists_and_single_tasks():
    one = resolve(["put-block-in-bowl-seen-colors"])
    assert one.kind == "single" and one.train == one.eval == ("put-block-in-bowl-seen-colors",)
    assert resolve("put-block-in-bowl-seen-colors") == one
    two = resolve(["put-block-in-bowl-seen-colors", "towers-of-hanoi-seq-seen-colors"])
    assert two.kind == "multi" and two.weights == (0.5, 0.5)
    assert two.eval == two.train and two.name == ("put-block-in-bowl-seen-colors+"
                                                  "towers-of-hanoi-seq-seen-colors")


@pytest.mark.parametrize(("names", "message"), [
    ("put-block-in-bowl-seen", "did you mean put-block-in-bowl-seen-colors"),
    ("multi-attr-nothing", "unknown task or task set 'multi-attr-nothing'"),
    ("multi-all", "demo-conditioned Ravens tasks"),
    ("multi-demo-conditioned", "demo-conditioned Ravens tasks"),
    (["multi-language-conditioned", "align-rope"], "must be the only task"),
    (["align-rope", "align-rope"], "more than once"),
    ([], "no task given"),
])
def test_clear_errors(names, message):
    with pytest.raises(TaskSetError, match=message):
        resolve(names)


def test_set_definitions_are_checked(tmp_path):
    bad = tmp_path / "sets.yaml"
    bad.write_text("language_conditioned: {train: [a], eval: [a]}\n"
                   "multi_attr: {pool: [a], held_out: {b: {drops: c}}}\n")
    with pytest.raises(ValueError, match="drops 'c' is not in multi_attr.pool"):
        load_task_sets(bad)
