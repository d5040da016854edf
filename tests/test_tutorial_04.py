"""Tutorial 04 (dropout as adaptive L2): its structure, the student's penalty formula and its
check, and its findings on the quick profile, with the verdict kept to what the notebook tests."""

import re

import nbformat
import numpy as np
import pytest

from nnreg_keras import render
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed, solution_and_check

STEM = "04_dropout_as_adaptive_l2"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
ZERO = re.compile(r"^[-−]?0\.0+$")  # "0.000": a small value hidden by too few decimals
CHECKS = {
    "quadratic_penalty",
    "each_ignores_its_change",
    "standardising_removes_both",
    "equal_per_sd_at_zero",
    "linear_is_ridge",
}
COMPARISONS = {
    "dropout_learns_the_adaptive_penalty",
    "rescaling_moves_l2_more",
    "shifting_moves_dropout_more",
    "uncertainty_weighting_at_the_fit",
}


@pytest.fixture(scope="module")
def results(quick_reports):
    return load(landed(quick_reports, STEM))


def cells():
    return nbformat.read(str(NOTEBOOK), as_version=4).cells


def claim(results, name):
    return next(c for c in results["claims"] if c["name"] == name)


def prose() -> str:
    return " ".join(" ".join(c.source.split()) for c in cells() if c.cell_type == "markdown")


def test_the_notebook_says_what_l2_and_dropout_depend_on_and_what_it_does_not_test():
    text = prose()
    assert "Gaussian prior" in text and "(1 − lr·λ/m)" in text and "Goodfellow" in text
    assert "depends on the data" in text and "uncertainty" in text and "changes as training" in text
    assert "Wager, Wang and Liang 2013" in text
    assert "this notebook does not test that case" in text  # hidden-unit dropout
    assert "Adam is not plain gradient descent" in text and "does not hold" in text
    for stated in ("(10%)", "`tolerance` (0.01", "at most 1e-4", "within 5%"):
        assert stated in text, f"the tolerance {stated} is named before any result"


def test_style_rules_and_exercises():
    code = "\n".join(c.source for c in cells() if c.cell_type == "code")
    assert not re.search(r"^\s*import keras\b", code, re.M)
    assert max(len(line) for line in code.splitlines()) <= 100
    exercises = cells()[-1]
    assert "exercises" in exercises.metadata.get("tags", [])
    commands = re.findall(r"`nnreg-keras run 04 -p (\w+) [^`]+`", exercises.source)
    assert len(commands) >= 4 and set(commands) <= set(notebook_defaults(NOTEBOOK))
    assert "python -m nnreg_keras" not in exercises.source


def student_pieces() -> tuple[str, str]:
    """The cell with the solution region and the check cell right after it."""
    return solution_and_check(NOTEBOOK, asserts=4)


def run_check(solution: str, check: str) -> None:
    from nnreg_keras import adaptive
    from nnreg_keras.training import keras

    namespace = {"np": np, "keras": keras, "ad": adaptive}
    exec(solution, namespace)
    exec(check, namespace)


def test_the_check_cell_passes_the_formula_and_catches_a_wrong_one():
    solution, check = student_pieces()
    run_check(solution, check)
    without_half = solution.replace("0.5 * rate", "rate")
    assert without_half != solution
    with pytest.raises(AssertionError, match="Monte Carlo"):
        run_check(without_half, check)
    keep_prob_for_rate = solution.replace("rate / (1.0 - rate)", "(1.0 - rate) / rate")
    with pytest.raises(AssertionError):
        run_check(keep_prob_for_rate, check)


def test_the_experiment_uses_the_students_formula():
    source = "\n".join(c.source for c in cells() if c.cell_type == "code")
    assert "quad[s, r] = quadratic_dropout_penalty(" in source


@pytest.mark.notebooks
def test_claims_are_checks_or_paired_comparisons_decided_by_their_intervals(results):
    found = {c["name"]: c for c in results["claims"]}
    assert set(found) == CHECKS | COMPARISONS
    for name in CHECKS:
        assert "interval" not in found[name]
    for name in COMPARISONS:
        low, high = found[name]["interval"]
        side = low > 0 if found[name]["expect"] == "higher" else high < 0
        assert (found[name]["status"] == "held") == side, name
        assert found[name]["seeds"] == len(results["seeds"])
    assert all(c["status"] == "held" for c in found.values()), [
        c["text"] for c in found.values() if c["status"] != "held"
    ]


@pytest.mark.notebooks
def test_the_approximation_error_is_stated_with_its_numbers(results):
    m = results["metrics"]
    assert 0.01 < m["approximation_error"] <= results["parameters"]["approximation_tolerance"]
    text = claim(results, "quadratic_penalty")["text"]
    assert len(re.findall(r"[+-]\d+\.\d% at rate", text)) == len(
        results["parameters"]["penalty_rates"]
    )
    verdict = results["verdict"]["text"]
    assert re.search(r"off by up to \d+%", verdict)
    assert verdict.startswith("For one sigmoid unit with input dropout")
    assert "Hidden-unit dropout is not tested here" in verdict
    assert "only the p(1 − p) weighting differs" not in verdict
    assert len(verdict.split()) <= 60


@pytest.mark.notebooks
def test_each_method_ignores_the_change_its_penalty_says_it_ignores(results):
    m, tolerance = results["metrics"], results["parameters"]["tolerance"]
    assert m["change_dropout_rescaled"] <= tolerance < m["change_dropout_shifted"]
    assert m["change_L2_shifted"] <= tolerance < m["change_L2_rescaled"]
    for method in ("dropout_std", "L2_std"):
        assert m[f"change_{method}_rescaled"] < 1e-4 and m[f"change_{method}_shifted"] < 1e-4
    note = claim(results, "uncertainty_weighting_at_the_fit")["text"]
    low, high = map(float, re.search(r"was ([\d.]+) to ([\d.]+) times", note).groups())
    assert 0.5 < low <= high < 1  # p(1 − p) ≤ ¼: the penalty weakens as the model grows sure


@pytest.mark.notebooks
def test_labels_give_both_conventions_and_no_table_shows_a_small_value_as_zero(results):
    text = " ".join(
        t["caption"] + " " + " ".join(map(str, sum(t["rows"], []))) for t in results["tables"]
    )
    assert "dropout rate 0.5 (keep_prob 0.5)" in text
    for table in results["tables"]:
        for row in table["rows"]:
            for value in row:
                if isinstance(value, str):
                    tokens = re.findall(r"[-−]?\d[\d,.]*(?:e[-+]?\d+)?", value)
                    assert not any(ZERO.match(t) for t in tokens), (
                        f"{table['caption']!r}: {value!r}"
                    )
                elif isinstance(value, float) and value != 0:
                    assert not ZERO.match(render.cell(value)), f"{table['caption']!r}: {value!r}"
    figures = [f["file"].rsplit("/", 1)[-1] for f in results["figures"]]
    assert figures == ["coefficients.svg", "unit_and_origin_change.png", "effective_strengths.svg"]
    assert all(re.search(r"\d\.\d", f["alt"]) for f in results["figures"])
