"""Every tutorial notebook, executed with the quick profile through the runner, in a temp dir."""
import json
from pathlib import Path

import nbformat
import pytest

from nnreg_keras import report
from nnreg_keras.results import read
from nnreg_keras.runner import Layout, discover, run
from tests.conftest import ROOT, landed

NOTEBOOKS = discover(ROOT / "tutorials")
STEMS = [nb.stem for nb in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=STEMS)
def test_committed_without_outputs_and_with_parameters(notebook: Path):
    nb = nbformat.read(str(notebook), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "clear the outputs before committing"
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assert nb.cells[0].cell_type == "markdown" and "> " in nb.cells[0].source, "first cell: title and quoted question"


@pytest.mark.notebooks
def test_every_notebook_writes_valid_results_and_the_report_has_every_section(quick_reports: Path):
    for stem in STEMS:
        results = read(landed(quick_reports, stem))
        assert results["notebook"] == stem and results["profile"] == "quick"
        assert results["figures"] and results["tables"] and results["verdict"] and results["claims"]
        assert landed(quick_reports, stem, "notebooks", ".ipynb").is_file()
    html = report.build(quick_reports).read_text()
    assert html.count("<section id=") == len(STEMS)
    for stem in STEMS:
        assert f'<a href="runs/{stem}/notebooks/{stem}.html">' in html
        assert landed(quick_reports, stem, "notebooks", ".html").is_file()


@pytest.mark.notebooks
def test_every_claim_is_worded_both_ways_and_every_verdict_is_short(quick_reports: Path):
    for stem in STEMS:
        results = read(landed(quick_reports, stem))
        assert results["claims"], f"{stem} records no claims"
        for statement in [results["verdict"], *results["claims"]]:
            assert statement["text"].strip() and statement["alternative"].strip()
            assert statement["text"] != statement["alternative"]
        assert len(results["verdict"]["text"].split()) <= 60 and len(results["verdict"]["alternative"].split()) <= 60
        assert results["metrics"].keys() >= {f"claim_{c['name']}" for c in results["claims"]}


@pytest.mark.notebooks
def test_same_profile_and_seed_give_identical_results(quick_reports: Path, tmp_path: Path):
    stem = STEMS[0]
    run([stem], "quick", Layout(ROOT / "tutorials", ROOT / "params", tmp_path / "again"), progress=False)
    first = (landed(quick_reports, stem)).read_bytes()
    assert (landed(tmp_path / "again", stem)).read_bytes() == first


@pytest.mark.notebooks
def test_tutorial_01_measures_what_it_claims(quick_reports: Path):
    m = read(landed(quick_reports, "01_dropout_is_not_a_smaller_network"))["metrics"]
    assert m["params_changed_fixed_mask"] < m["params_changed_dropout"]
    assert m["distinct_masks_fixed"] == 1 and m["distinct_masks_dropout"] > 1000
    assert m["inference_deterministic"] == 1 and m["training_pass_gap"] > 0
    assert m["kept_value"] == pytest.approx(2.0)  # quick profile keeps dropout_rate 0.5
    executed = json.loads(landed(quick_reports, STEMS[0], "notebooks", ".ipynb").read_text())
    assert executed["metadata"]["papermill"]["duration"] > 0


@pytest.mark.notebooks
def test_tutorial_03_checks_hold(quick_reports: Path):
    m = read(landed(quick_reports, "03_l2_vs_dropout_from_scratch"))["metrics"]
    for key in ("gradient_check_none", "gradient_check_l2", "gradient_check_dropout"):
        assert m[key] < 1e-7
    assert m["keras_gradient_gap"] < 1e-6
    assert m["still_share_l2_step"] == 0  # L2 moves every weight
    assert m["updated_share_L2"] == 1
    assert m["still_share_dropout_one_mask"] > m["still_share_plain_step"]
