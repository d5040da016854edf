"""Tutorial 02 (does input dropout spread reliance?): its findings on the quick profile, and the
wording rules of issue 9 for it (design confound, matched comparison with L2, Adam, labels)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnreg_keras.data import make_height
from nnreg_keras.exceptions import DatasetError
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed

STEM = "02_input_dropout_spreads_reliance"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
QUESTION = "Does input dropout spread reliance across features?"


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


def claims(results: dict) -> dict[str, dict]:
    return {c["name"]: c for c in results["claims"]}


def shown(statement: dict) -> str:
    return statement["text"] if statement["held"] else statement["alternative"]


def markdown(notebook: Path = NOTEBOOK) -> str:
    return "\n".join(
        c.source
        for c in nbformat.read(str(notebook), as_version=4).cells
        if c.cell_type == "markdown"
    )


# Item 4: the label threshold is not the value a missing feature is filled with.
def test_the_label_threshold_moves_and_the_inputs_stay():
    at_fill, above = make_height(3000, 10, seed=2), make_height(3000, 10, seed=2, threshold=0.5)
    assert np.array_equal(at_fill.x_train, above.x_train)
    clean = (above.x_train[:, 0] > 0.5) == (above.y_train > 0.5)
    assert clean.mean() == pytest.approx(0.9, abs=0.02)  # the label is height > 0.5, 10% flipped
    assert above.y_train.mean() == pytest.approx(0.9 * 0.3085 + 0.1 * 0.6915, abs=0.03)
    assert above.info["threshold"] == 0.5
    with pytest.raises(DatasetError, match=r"threshold must be a number in \[-3, 3\], got 'high'"):
        make_height(threshold="high")


def test_the_notebook_asks_the_question_it_tests_with_the_threshold_off_the_fill_value():
    assert notebook_defaults(NOTEBOOK)["threshold"] != 0
    first = nbformat.read(str(NOTEBOOK), as_version=4).cells[0].source
    assert first.startswith(f"# {QUESTION}")
    readme_line = next(
        line for line in (ROOT / "README.md").read_text().splitlines() if STEM in line
    )
    assert QUESTION in readme_line


@pytest.mark.notebooks
def test_the_threshold_confound_is_measured_at_both_thresholds(results: dict):
    threshold = results["parameters"]["threshold"]
    assert results["title"] == QUESTION and threshold != 0
    found = claims(results)
    for name in ("clean_cost_depends_on_threshold", "fallback_only_at_fill_value"):
        assert found[name]["numbers"]["t"] == threshold
        assert {"c0", "c1", "m0", "m1", "s0", "s1"} <= set(found[name]["numbers"])
    table = next(t for t in results["tables"] if "label threshold" in t["columns"])
    assert {row[0] for row in table["rows"]} == {"0 sd", f"{threshold:g} sd"}
    m = results["metrics"]
    # at the fill value, input dropout's gain with height missing is mostly a fallback
    assert (
        m["accuracy_shuffled_input_top_at_fill"] - m["accuracy_shuffled_none_at_fill"]
        < (m["accuracy_missing_input_top_at_fill"] - m["accuracy_missing_none_at_fill"]) / 2
    )
    everything = " ".join(shown(c) for c in results["claims"]) + shown(results["verdict"])
    assert "cost no clean accuracy" not in everything


# Item 3: input dropout and L2 are compared along both sweeps, at matched clean accuracy.
@pytest.mark.notebooks
def test_input_dropout_and_l2_are_compared_at_matched_clean_accuracy(results: dict):
    assert any(f["file"].endswith("/tradeoff.svg") for f in results["figures"])
    matched = claims(results)["matched_clean_accuracy"]
    assert matched["numbers"]["floor"] == pytest.approx(results["metrics"]["accuracy_none"])
    assert (
        "as accurate on clean data as no regularization" in matched["text"] + matched["alternative"]
    )
    assert matched["held"]  # quick profile: missing 0.79 against 0.73, share 0.52 against 0.35
    everything = " ".join(shown(c) for c in results["claims"])
    assert "spread the reliance more than input dropout did" not in everything


# Item 7: the L2 models train with Adam, and the notebook says what that changes.
def test_the_notebook_says_adam_is_not_plain_gradient_descent():
    text = markdown()
    assert "Adam" in text and "(1 − lr·λ/m)" in text and "does not hold here" in text
    assert "AdamW" in text


# Item 8: dropout strength as rate and keep_prob, L2 also in the course's λ.
@pytest.mark.notebooks
def test_labels_give_both_conventions(results: dict):
    models = [row[0] for row in results["tables"][1]["rows"]]
    dropout = [label for label in models if "dropout" in label]
    assert dropout and all("dropout rate" in label and "(keep_prob" in label for label in dropout)
    l2 = [label for label in models if label.startswith("L2")]
    assert len(l2) == len(results["parameters"]["l2s"]) and all("course λ" in label for label in l2)
    n_train = results["parameters"]["n_train"]
    assert f"course λ {2 * n_train * min(results['parameters']['l2s']):.3g})" in " ".join(l2)
    assert "dropout rate 0.6 (keep_prob 0.4)" in shown(results["verdict"])


@pytest.mark.notebooks
def test_input_dropout_findings_hold_on_the_quick_profile(results: dict):
    found = claims(results)
    for name in (
        "missing_accuracy_rose",
        "hiding_height_is_what_helps",
        "spread_while_present",
        "fallback_only_at_fill_value",
        "linear_model_spreads",
    ):
        assert found[name]["held"], shown(found[name])
    m = results["metrics"]
    assert m["accuracy_missing_input_top"] > m["accuracy_missing_none"] + 0.1
    assert m["reliance_input_top"] < m["reliance_none"]
    for name in ("none", "input_top", "hidden", "linear", "linear_dropout"):
        assert 0 <= m[f"reliance_{name}"] <= 1 and 0 <= m[f"weight_norm_{name}"] <= 1
        assert 0.5 <= m[f"accuracy_{name}"] <= 1
    assert results["verdict"]["held"] and shown(results["verdict"]).startswith("Partly.")
