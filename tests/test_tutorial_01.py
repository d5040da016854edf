"""Tutorial 01 (is dropout a smaller network?): the lesson's structure, its student cell and check,
and what the quick profile's run measures: every model read at its best validation step, tuned
settings taken from their grids, statuses that follow their intervals, and a short answer that
says yes to "the same size?"."""

import re
from pathlib import Path

import numpy as np
import pytest

from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed, solution_and_check
from tests.lesson_checks import cells, check_lesson, decided_claims

STEM = "01_dropout_is_not_a_smaller_network"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "smaller_as_accurate_as_dropout": "equal",
    "dropout_lower_log_loss": "lower",
    "fixed_mask_like_kept_width": "equal",
    "dropout_half_as_accurate": "equal",
    "plain_half_less_accurate": "lower",
    "dropout_half_beats_trained_alone": "higher",
}


def test_the_lesson_keeps_the_conventions_and_the_budgets():
    check_lesson(NOTEBOOK, core=True)
    code = "\n".join(c.source for c in cells(NOTEBOOK) if c.cell_type == "code")
    assert "keras.layers.Dropout(strength, seed=10 * seed + i)" in code
    assert "FixedMaskDropout(" in code and "keras.regularizers.L2(" in code


def test_expectations_name_the_margin_and_the_control_before_any_result():
    everything = cells(NOTEBOOK)
    text = everything[2].source
    assert "±`accuracy_margin` (one point)" in text and "The control" in text
    assert "**Yes, the same size.**" in text
    first_claim = next(i for i, c in enumerate(everything) if "rec.compare(" in c.source)
    assert first_claim > 2
    defaults = notebook_defaults(NOTEBOOK)
    assert defaults["accuracy_margin"] == 0.01 and defaults["record_every"] < defaults["steps"]


def run_check(source: str, check: str) -> None:
    import keras

    from nnreg_keras import training
    from nnreg_keras.data import make_goalkeeper, splits
    from nnreg_keras.models import FixedMaskDropout

    data = [splits(make_goalkeeper(20, 20, 0.1, 0), 10)]
    namespace = {"np": np, "keras": keras, "training": training, "data": data}
    namespace.update(FixedMaskDropout=FixedMaskDropout, learning_rate=0.01)
    exec(source, namespace)
    exec(check, namespace)


def test_the_check_passes_the_solution_and_catches_an_unseeded_dropout():
    source, check = solution_and_check(NOTEBOOK, asserts=4)
    run_check(source, check)
    unseeded = source.replace(
        "keras.layers.Dropout(strength, seed=10 * seed + i)", "keras.layers.Dropout(strength)"
    )
    with pytest.raises(AssertionError, match="seed of its own"):
        run_check(unseeded, check)
    missing = source.replace(
        "layers.append(keras.layers.Dropout(strength, seed=10 * seed + i))", "pass"
    )
    with pytest.raises(AssertionError, match="one keras.layers.Dropout"):
        run_check(missing, check)


# --- what the quick profile's run measures -------------------------------------------------------


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


def claim(results: dict, name: str) -> dict:
    return next(c for c in results["claims"] if c["name"] == name)


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_interval(results):
    found = decided_claims(results, CLAIMS, checks=("same_size",))
    assert found["same_size"]["status"] == "held"


@pytest.mark.notebooks
def test_the_tuned_models_are_read_at_their_best_step_and_their_edges_are_named(results):
    tuned = next(t for t in results["tables"] if t["columns"][0] == "model")
    assert tuned.get("lead") and [r[0] for r in tuned["rows"]] == [
        "smaller network",
        "dropout",
        "L2",
        "no regularizer",
    ]
    rows = {r[0]: dict(zip(tuned["columns"], r, strict=True)) for r in tuned["rows"]}
    for row in rows.values():
        edge = row["on the edge of its grid"]
        for part in edge.split("; "):
            assert part == "never" or re.fullmatch(
                r"(step: )?the (largest|smallest) offered .*", part
            )
        assert float(row["best step"].split(" ")[0].replace(",", "")) > 0
    assert re.search(r"dropout rate [\d.]+ \(keep_prob", rows["dropout"]["chosen on validation"])


@pytest.mark.notebooks
def test_the_short_answer_says_yes_and_words_the_race_by_its_interval(results):
    verdict = results["verdict"]["text"]
    assert verdict.startswith("Yes: after training, the dropout network still has all ")
    assert "parameters. Why not a smaller network? Here a tuned smaller network was " in verdict
    race = claim(results, "smaller_as_accurate_as_dropout")
    low, high = race["interval"]
    if race["status"] == "held":
        assert "as accurate as tuned dropout, within one point" in verdict
        assert ("slightly" in verdict) == (not low <= 0 <= high)
    else:
        assert "as accurate as tuned dropout, within" not in verdict
    assert "±" not in verdict and "keep_prob" not in verdict and len(verdict.split()) <= 60
