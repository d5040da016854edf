"""Tutorial 02 (does input dropout spread reliance?): its structure, the student's model and its
check, and its findings on the quick profile."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnreg_keras import stats
from nnreg_keras.data import make_height
from nnreg_keras.exceptions import DatasetError
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed, solution_and_check
from tests.lesson_checks import check_lesson

STEM = "02_input_dropout_spreads_reliance"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
QUESTION = "Does input dropout spread reliance across features?"
CLAIMS = {
    "share_of_reliance",
    "first_layer_weights_spread",
    "fallback_when_missing",
    "robust_when_shuffled",
    "dropout_beats_tuned_l2",
    "l2_matched_on_test",
    "dropout_beats_matched_l2",
}


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


def cells(kind: str | None = None) -> list:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    return [c for c in nb.cells if kind is None or c.cell_type == kind]


def claims(results: dict) -> dict[str, dict]:
    return {c["name"]: c for c in results["claims"]}


def table(results: dict, first_column: str, caption_start: str) -> dict:
    return next(
        t
        for t in results["tables"]
        if t["columns"][0] == first_column and t["caption"].startswith(caption_start)
    )


def test_the_label_threshold_moves_and_the_inputs_stay():
    at_fill, above = make_height(3000, 10, seed=2), make_height(3000, 10, seed=2, threshold=0.5)
    assert np.array_equal(at_fill.x_train, above.x_train)
    clean = (above.x_train[:, 0] > 0.5) == (above.y_train > 0.5)
    assert clean.mean() == pytest.approx(0.9, abs=0.02)  # the label is height > 0.5, 10% flipped
    assert above.info["threshold"] == 0.5
    with pytest.raises(DatasetError, match=r"threshold must be a number in \[-3, 3\], got 'high'"):
        make_height(threshold="high")


def test_the_lesson_keeps_the_conventions_and_the_budgets():
    check_lesson(NOTEBOOK, core=True)
    assert cells()[0].source.startswith(f"# {QUESTION}")
    prose = " ".join(c.source for c in cells("markdown"))
    assert "Robustness, a different thing" in prose and "tuned against tuned" in prose
    assert "match_tolerance" in prose


def test_exercises_name_the_parameter_and_the_console_command():
    exercises = cells()[-1]
    commands = re.findall(r"`(nnreg-keras run 02 -p (\w+) [^`]+)`", exercises.source)
    assert len(commands) >= 4 and "python -m nnreg_keras" not in exercises.source
    defaults = notebook_defaults(NOTEBOOK)
    assert all(name in defaults for _, name in commands)


def run_check(build_source: str, check_source: str) -> None:
    import keras

    from nnreg_keras import training

    names = list(make_height(10, 10).feature_names)
    namespace = {"np": np, "keras": keras, "training": training, "names": names}
    namespace.update(width=8, learning_rate=0.01)
    exec(build_source, namespace)
    exec(check_source, namespace)


def test_the_check_cell_passes_the_solution_and_catches_a_model_without_the_dropout_seed():
    build_source, check_source = solution_and_check(NOTEBOOK, asserts=5)
    run_check(build_source, check_source)
    unseeded = build_source.replace("Dropout(input_rate, seed=seed)", "Dropout(input_rate)")
    assert unseeded != build_source
    with pytest.raises(AssertionError, match="same initial weights"):
        run_check(unseeded, check_source)


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_interval(results: dict):
    found = claims(results)
    assert set(found) == CLAIMS
    for claim in found.values():
        assert claim["status"] == stats.claim_status(claim), claim["name"]
        assert claim["p_adjusted"] >= claim["p"], claim["name"]


@pytest.mark.notebooks
def test_the_table_shows_each_share_beside_its_baselines_and_the_tuned_models(results: dict):
    shares = table(results, "model", "Test scores")
    labels = [row[0] for row in shares["rows"]]
    assert labels[:3] == ["network at initialization", "no regularization", labels[2]]
    assert labels[2].startswith("input dropout rate")
    roles = {row[0]: row[1] for row in shares["rows"]}
    assert list(roles.values()).count("tuned") in (1, 2)  # tuned L2 may also be the matched one


@pytest.mark.notebooks
def test_the_short_answer_reports_the_claim_and_names_robustness_apart(results: dict):
    verdict = results["verdict"]["text"]
    found = claims(results)
    statuses = {found[n]["status"] for n in ("share_of_reliance", "first_layer_weights_spread")}
    first = (
        "Yes"
        if statuses == {"held"}
        else "Partly"
        if "held" in statuses
        else "No"
        if "did not hold" in statuses
        else "Not shown"
    )
    assert verdict.startswith(f"{first}: with input dropout")
    assert "height's share of the network's reliance went from" in verdict
    robust = found["fallback_when_missing"]["status"] == "held"
    assert ("robustness, a different thing" in verdict) == (
        robust or found["robust_when_shuffled"]["status"] == "held"
    )
    assert "±" not in verdict and "share points" not in verdict and len(verdict.split()) <= 60
