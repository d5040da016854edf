"""Tutorial 04 (dropout as adaptive L2) and its going-further notebook 09 (what standardising
leaves, and linear regression): structure, the student's penalty formula and its check, and the
findings of both on the quick profile, with the verdicts kept to what the notebooks measure."""

import json
import re

import nbformat
import numpy as np
import pytest

from nnreg_keras import stats
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.recording import numbers_in
from tests.conftest import ROOT, landed, solution_and_check
from tests.lesson_checks import check_lesson

STEM = "04_dropout_as_adaptive_l2"
GOING_FURTHER = "09_what_standardising_leaves"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
FURTHER = ROOT / "tutorials" / f"{GOING_FURTHER}.ipynb"
CHECKS = {"quadratic_penalty", "each_ignores_its_change"}
COMPARISONS = {
    "dropout_learns_the_adaptive_penalty",
    "rescaling_moves_l2_more",
    "shifting_moves_dropout_more",
}


def cells(path=NOTEBOOK):
    return nbformat.read(str(path), as_version=4).cells


def code(path=NOTEBOOK) -> str:
    return "\n".join(c.source for c in cells(path) if c.cell_type == "code")


def prose(path=NOTEBOOK) -> str:
    return " ".join(" ".join(c.source.split()) for c in cells(path) if c.cell_type == "markdown")


def parameters_of(reports, stem=STEM) -> dict:
    """The parameters the run used, as the runner keeps them beside the results."""
    return json.loads((reports / "runs" / stem / "run.json").read_text())["parameters"]


def claims_of(reports, stem=STEM) -> dict:
    return {c["name"]: c for c in load(landed(reports, stem))["claims"]}


def test_the_notebook_says_what_l2_and_dropout_depend_on_and_what_it_does_not_test():
    text = prose()
    assert (
        "Gaussian prior" in text and "Goodfellow" in text and "Wager, Wang and Liang 2013" in text
    )
    assert "depends on the data" in text and "uncertainty" in text
    assert "Hidden units are not tested here" in text
    for stated in ("(10%)", "`tolerance` (0.01"):
        assert stated in text, f"the tolerance {stated} is named before any result"
    assert "by construction" in text and "notebook 09" in text  # standardising, explained


def test_the_lesson_keeps_the_lesson_conventions_and_a_core_lessons_budgets():
    check_lesson(NOTEBOOK, core=True)


def test_plain_keras_model_fit_first_and_rules_declared():
    for path in (NOTEBOOK, FURTHER):
        text = code(path)
        assert re.search(r"^import keras$", text, re.M), path.name
        assert (
            "from nnreg_keras.training import keras" not in text and "check_parameters" not in text
        )
        assert text.index("model.fit(") < text.index("fit_many(")
        assert "# The same full-batch training as model.fit above" in text
        assert max(len(line) for line in text.splitlines()) <= 100
        parameters = cells(path)[1].source.splitlines()
        assert all("; " in line for line in parameters), path.name
    assert "keras.layers.Dropout(" in code() and "keras.regularizers.L2(" in code()
    assert "Normalization" not in code()  # standardising is 09's


def test_style_rules_and_exercises():
    for path, number in ((NOTEBOOK, "04"), (FURTHER, "09")):
        exercises = cells(path)[-1]
        assert "exercises" in exercises.metadata.get("tags", [])
        commands = re.findall(rf"`nnreg-keras run {number} -p (\w+) [^`]+`", exercises.source)
        assert len(commands) >= 3 and set(commands) <= set(notebook_defaults(path))


def run_check(solution: str, check: str) -> None:
    import keras

    from nnreg_keras import adaptive

    namespace = {"np": np, "keras": keras, "ad": adaptive}
    exec(solution, namespace)
    exec(check, namespace)


def test_the_check_cell_passes_the_formula_and_catches_a_wrong_one():
    solution, check = solution_and_check(NOTEBOOK, asserts=4)
    run_check(solution, check)
    without_half = solution.replace("0.5 * rate", "rate")
    assert without_half != solution
    with pytest.raises(AssertionError, match="Monte Carlo"):
        run_check(without_half, check)
    with pytest.raises(AssertionError):
        run_check(solution.replace("rate / (1.0 - rate)", "(1.0 - rate) / rate"), check)


def test_the_solution_and_check_cells_carry_nbgrader_metadata():
    graded = [c for c in cells() if "nbgrader" in c.metadata]
    assert [c.metadata["nbgrader"]["grade_id"] for c in graded] == ["04_solution_1", "04_check_1"]
    assert graded[0].metadata["nbgrader"]["solution"] and graded[1].metadata["nbgrader"]["grade"]
    assert "quad[s, r] = quadratic_dropout_penalty(" in code()  # the experiment uses it


@pytest.mark.notebooks
def test_claims_are_checks_or_paired_comparisons_decided_by_their_intervals(quick_reports):
    found = claims_of(quick_reports)
    assert set(found) == CHECKS | COMPARISONS
    for name in CHECKS:
        assert "interval" not in found[name]
    for name in COMPARISONS:
        assert found[name]["status"] == stats.claim_status(found[name]), name


@pytest.mark.notebooks
def test_the_verdict_quotes_the_worst_seed_as_measured(quick_reports):
    results = load(landed(quick_reports, STEM))
    text = claims_of(quick_reports)["quadratic_penalty"]["text"]
    worst = re.search(r"the worst seed was off by (\d+\.\d)%", text).group(1)
    assert len(re.findall(r"[+-]\d+\.\d% at rate", text)) == len(
        parameters_of(quick_reports)["penalty_rates"]
    )
    verdict = results["verdict"]["text"]
    assert f"off by up to {worst}%" in verdict  # the same number, to the same decimal
    assert verdict.startswith("Dropout's L2 strength follows the data")
    assert "Hidden units were not tested" in verdict and len(numbers_in(verdict)) <= 2


@pytest.mark.notebooks
def test_each_method_ignores_the_change_its_penalty_says_it_ignores(quick_reports):
    results = load(landed(quick_reports, STEM))
    table = next(t for t in results["tables"] if t["caption"].startswith("Mean |change|"))
    change = {row[0]: [float(cell.split(" ±")[0]) for cell in row[1:3]] for row in table["rows"]}
    tolerance = parameters_of(quick_reports)["tolerance"]
    assert change["dropout"][0] <= tolerance < change["dropout"][1]
    assert change["L2"][1] <= tolerance < change["L2"][0]


@pytest.mark.notebooks
def test_09_explains_standardising_by_construction_with_an_unregularized_control(quick_reports):
    results = load(landed(quick_reports, GOING_FURTHER))
    claims = {c["name"]: c for c in results["claims"]}
    assert claims["standardised_inputs_identical"]["status"] == "held"
    assert "By construction" in claims["standardised_inputs_identical"]["text"]
    assert "control" in claims["standardising_removes_both"]["text"]
    table = next(t for t in results["tables"] if t["caption"].startswith("Mean |change|"))
    assert any("no regularizer (control)" in row[0] for row in table["rows"])
    assert results["metrics"]["input_gap"] < 1e-4
    for name in ("equal_per_sd_at_zero", "linear_is_ridge"):
        assert claims[name]["status"] == "held", claims[name]["text"]
    note = claims["uncertainty_weighting_at_the_fit"]["text"]
    low, high = map(float, re.search(r"was ([\d.]+) to ([\d.]+) times", note).groups())
    assert 0 < low <= high < 1  # p(1 − p) ≤ ¼: the penalty weakens as the model grows sure
    verdict = results["verdict"]["text"]
    assert verdict.startswith("Only the weighting by the model's uncertainty is left")
    assert "true by construction" in verdict and len(numbers_in(verdict)) <= 2
