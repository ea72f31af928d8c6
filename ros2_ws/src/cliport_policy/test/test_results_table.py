"""The results table: fixed result JSONs give exactly the expected markdown, JSON and PNG."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from cliport_policy.results_cells import collect, load_paper
from cliport_policy.results_table import load_records, main, write_table


def _summary(per_seed: list[float], ci95: float, n_episodes: int) -> dict:
    per = {str(i): v for i, v in enumerate(per_seed)}
    return {"mean": sum(per_seed) / len(per_seed), "ci95": ci95, "per_seed": per,
            "n_seeds": len(per_seed), "n_episodes": n_episodes}


RECORDS = [
    {"run": "runs/multi-100", "method": "CLIPort (multi)", "n_demos": 100,
     "checkpoint": "runs/multi-100/checkpoints/step-0003000.ckpt",
     "tasks": {"put-block-in-bowl-seen-colors": {"test": _summary([0.9, 0.92, 0.94], 0.0497,
                                                                   300)},
               "towers-of-hanoi-seq-seen-colors": {"test": _summary([0.4, 0.5, 0.6], 0.2484,
                                                                     300)}}},
    {"run": "runs/single-10", "method": "CLIPort (single)", "n_demos": 10,
     "checkpoint": "step-0000250.ckpt",
     "tasks": {"put-block-in-bowl-seen-colors": {"test": _summary([0.6], 0.0, 5)},
               "my-new-task": {"test": _summary([0.2, 0.25, 0.3], 0.1242, 300)}}},
    {"run": "runs/tt-100", "method": "Transporter-only (tiny)",
     "paper_method": "Transporter-only", "n_demos": 100,
     "tasks": {"towers-of-hanoi-seq-seen-colors": {"test": _summary([0.97, 0.99, 0.98],
                                                                     0.0248, 300)}}},
]

# Paper numbers (docs/design.md#paper-results): towers-of-hanoi seen, Transporter-only
# 10/100: 67.9 / 98.0, CLIPort (multi) 96.3 / 98.7; put-blocks-in-bowls seen, single
# 68.3 / 92.5, multi 90.2 / 99.5.
EXPECTED = """\
## CLIPort results: test success (%), in the layout of the paper's Table 1

Each cell: our mean ± the 95 % confidence half-width (Student t over evaluation seeds; \
a seed's score is the mean partial-credit score of its episodes), then the paper's number \
in parentheses (one seed of 100 episodes). † fewer than 3 seeds or fewer than 100 episodes \
a seed (not the paper's protocol). – not run.

**Block B**

Columns: towers-of-hanoi seq-seen-colors (`towers-of-hanoi-seq-seen-colors`).

| Method | 10 | 100 |
| --- | --- | --- |
| Transporter-only (tiny) | – (67.9) | 98.0 ± 2.5 (98.0) |
| CLIPort (multi) | – (96.3) | 50.0 ± 24.8 (98.7) |

**Block C**

Columns: put-blocks-in-bowls seen-colors (`put-block-in-bowl-seen-colors`).

| Method | 10 | 100 |
| --- | --- | --- |
| CLIPort (single) | 60.0† (68.3) | – (92.5) |
| CLIPort (multi) | – (90.2) | 92.0 ± 5.0 (99.5) |

**Other tasks**

Columns: `my-new-task`.

| Method | 10 | 100 |
| --- | --- | --- |
| CLIPort (single) | 25.0 ± 12.4 | – |

Sources:

- Transporter-only (tiny), 100 demos: runs/tt-100
- CLIPort (single), 10 demos: runs/single-10 (step-0000250.ckpt)
- CLIPort (multi), 100 demos: runs/multi-100 (step-0003000.ckpt)
"""


@pytest.fixture
def results_dir(tmp_path):
    for r in RECORDS:
        d = tmp_path / r["run"] / "eval"
        d.mkdir(parents=True)
        (d / "results.json").write_text(json.dumps(r))
    return tmp_path / "runs"


def test_fixed_results_give_the_expected_markdown(results_dir, tmp_path):
    paths = write_table(load_records([results_dir]), tmp_path / "out")
    assert paths["md"].read_text() == EXPECTED


def test_table_json_and_chart(results_dir, tmp_path):
    paths = write_table(load_records([results_dir]), tmp_path / "out")
    table = json.loads(paths["json"].read_text())
    assert table["demos"] == [10, 100]
    assert [b["block"] for b in table["blocks"]] == ["B", "C", "other"]
    cell = next(c for c in table["cells"] if c["method"] == "CLIPort (multi)"
                and c["task"] == "put-block-in-bowl-seen-colors")
    assert cell["mean_pct"] == pytest.approx(92.0) and cell["paper"] == 99.5
    assert cell["n_seeds"] == 3 and cell["episodes_per_seed"] == 100
    assert not cell["off_protocol"]
    with Image.open(paths["png"]) as img:  # one bar group per measured (task, demos)
        assert img.format == "PNG" and img.width >= 480 and img.height > 300


def test_val_split_uses_table_4(tmp_path):
    record = {"run": "r", "method": "CLIPort (single)", "n_demos": 100,
              "tasks": {"put-block-in-bowl-seen-colors": {
                  "test": _summary([0.9], 0, 100), "val": _summary([0.8], 0, 100)}}}
    cells = collect([record], load_paper(), "val")
    assert [(c.mean, c.paper) for c in cells] == [(0.8, 98.2)]  # paper, val


def test_a_cell_measured_twice_is_an_error():
    with pytest.raises(ValueError, match="two results for CLIPort .multi., "
                                         "put-block-in-bowl-seen-colors, 100 demos"):
        collect([RECORDS[0], dict(RECORDS[0], run="again")], load_paper())
    with pytest.raises(ValueError, match="not a cliport-eval results file"):
        collect([{"run": "x"}], load_paper())


def test_cli(results_dir, tmp_path, capsys):
    assert main([str(results_dir), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "table.md").read_text() == EXPECTED
    assert "wrote" in capsys.readouterr().out
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
