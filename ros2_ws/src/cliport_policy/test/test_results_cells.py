"""The paper's numbers and its row names, as the results table compares against them."""

from __future__ import annotations

from cliport_policy.results_cells import load_paper, method_label


def test_paper_numbers_are_table_1():
    paper = load_paper()
    assert len(paper.tasks) == 18 and paper.demos == (1, 10, 100, 1000)
    assert paper.score("test", "CLIPort (single)", "put-block-in-bowl-unseen-colors",
                       1000) == 25.0
    assert paper.score("test", "CLIPort (multi-attr)", "align-rope", 100) is None  # a dash
    assert paper.score("test", "CLIPort (multi)", "align-rope", 5) is None  # not a column
    assert method_label("cliport", "multi-attr") == "CLIPort (multi-attr)"
    assert method_label("transporter", "single") == "Transporter-only"
