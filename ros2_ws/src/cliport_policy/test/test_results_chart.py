"""The results chart's bar-group labels."""

from __future__ import annotations

from cliport_policy.results_chart import group_label, group_width


def test_chart_labels_wrap_at_hyphens_into_a_few_lines_even_for_one_method():
    lines = group_label("put-block-in-bowl-unseen-colors", 100, group_width(1))
    assert lines[-1] == "n=100" and len(lines) <= 3, lines
    assert "".join(lines[:-1]) == "put-block-in-bowl-unseen-colors"
    assert all(len(w) > 6 for w in lines[:-1])  # not one word per line
