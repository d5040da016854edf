"""Tutorial 02 (does input dropout spread reliance?): its structure, the student's model and its
check, and its findings on the quick profile."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnreg_keras.data import make_height
from nnreg_keras.exceptions import DatasetError
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed, solution_and_check

STEM = "02_input_dropout_spreads_reliance"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
QUESTION = "Does input dropout spread reliance across features?"
LESSON = (
    "fallback_when_missing",
    "spread_while_present",
    "hiding_height_is_what_helps",
    "hiding_height_alone_helps",
)
CLAIMS = {
    *LESSON,
    "share_of_reliance",
    "l2_matched_on_test",
    "dropout_beats_matched_l2",
    "first_layer_weights_spread",
    "linear_weights_spread",
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


def test_the_notebook_asks_the_question_and_keeps_the_style_rules():
    defaults = notebook_defaults(NOTEBOOK)
    assert defaults["threshold"] != 0 and defaults["n_val"] > 0 and len(defaults["seeds"]) >= 10
    assert cells()[0].source.startswith(f"# {QUESTION}")
    readme = next(line for line in (ROOT / "README.md").read_text().splitlines() if STEM in line)
    assert QUESTION in readme
    code = "\n".join(c.source for c in cells("code"))
    assert not re.search(r"^\s*import keras\b", code, re.M), "Keras comes from nnreg_keras.training"
    assert max(len(line) for line in code.splitlines()) <= 100
    prose = " ".join(c.source for c in cells("markdown"))
    assert "Adam" in prose and "(1 − lr·λ/m)" in prose and "does not hold here" in prose
    assert "match_tolerance" in prose and "2 accuracy points" in prose  # named before any result


def test_exercises_name_the_parameter_and_the_console_command():
    exercises = cells()[-1]
    assert "exercises" in exercises.metadata.get("tags", [])
    commands = re.findall(r"`(nnreg-keras run 02 -p (\w+) [^`]+)`", exercises.source)
    assert len(commands) >= 4 and "python -m nnreg_keras" not in exercises.source
    defaults = notebook_defaults(NOTEBOOK)
    assert all(name in defaults for _, name in commands)
    assert exercises.source.count("Predict") >= 4


def student_pieces() -> tuple[str, str]:
    """The cell with the solution region and the check cell right after it."""
    return solution_and_check(NOTEBOOK, asserts=5)


def run_check(build_source: str, check_source: str) -> None:
    from nnreg_keras.models import FeatureDropout
    from nnreg_keras.training import keras, predict, set_seed

    names = list(make_height(10, 10).feature_names)
    namespace = {"np": np, "keras": keras, "FeatureDropout": FeatureDropout, "predict": predict}
    namespace.update(set_seed=set_seed, names=names, HEIGHT=0, width=8, learning_rate=0.01)
    exec(build_source, namespace)
    exec(check_source, namespace)


def test_the_check_cell_passes_the_solution_and_catches_a_model_without_the_dropout_seed():
    build_source, check_source = student_pieces()
    run_check(build_source, check_source)
    unseeded = build_source.replace(", seed=seed)", ")")
    assert unseeded != build_source
    with pytest.raises(AssertionError, match="same initial weights"):
        run_check(unseeded, check_source)
    dropping_everything = build_source.replace(
        "FeatureDropout(input_dropout, seed=seed)", "keras.layers.Dropout(0.5, seed=seed)"
    )
    with pytest.raises(AssertionError, match="never dropped"):
        run_check(dropping_everything, check_source)


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_interval(results: dict):
    found = claims(results)
    assert set(found) == CLAIMS
    for claim in found.values():
        low, high = claim["interval"]
        if claim["expect"] == "equal":
            inside = -claim["margin"] <= low and high <= claim["margin"]
            assert (claim["status"] == "held") == inside, claim["name"]
        else:
            side = low > 0 if claim["expect"] == "higher" else high < 0
            assert (claim["status"] == "held") == side, claim["name"]
            if claim["status"] == "inconclusive":
                assert low <= 0 <= high, claim["name"]
    assert found["l2_matched_on_test"]["margin"] == results["parameters"]["match_tolerance"]


@pytest.mark.notebooks
def test_input_dropout_gives_a_fallback_for_height_and_hiding_height_is_what_does_it(results):
    found = claims(results)
    for name in LESSON:
        assert found[name]["status"] == "held", found[name]["text"]
        assert found[name]["difference"] > 0.05  # more than five accuracy points each
    m, rate = results["metrics"], results["metrics"]["rate"]
    assert rate in results["parameters"]["input_rates"]
    dropout = f"input dropout rate {rate:g} (keep_prob {1 - rate:g})"
    never = f"dropout rate {rate:g} on every input but height"
    missing = {label: m[f"accuracy_missing: {label}"] for label in ("no regularization", dropout)}
    assert missing[dropout] > missing["no regularization"] + 0.1
    assert abs(m[f"accuracy_missing: {never}"] - missing["no regularization"]) < 0.06
    for key in ("reliance", "weight_norm"):
        assert all(0 <= v <= 1 for k, v in m.items() if k.startswith(f"{key}: "))
    assert 0.4 < m["accuracy: network at initialization"] < 0.75  # the baseline is untrained
    assert 0.75 < m["accuracy: no regularization"] < 0.9


@pytest.mark.notebooks
def test_settings_are_chosen_on_validation_and_tables_show_baselines_and_intervals(results):
    chosen = table(results, "model", "Validation accuracy")
    roles = {row[0]: row[2] for row in chosen["rows"]}
    assert list(roles.values()).count("chosen: best validation accuracy") == 1
    assert sum(role.startswith(("matched", "closest")) for role in roles.values()) == 1
    means = table(results, "model", "Test accuracy")
    models = [row[0] for row in means["rows"]]
    assert models[:2] == ["network at initialization", "no regularization"]
    assert "linear at initialization" in models
    assert all("(keep_prob" in label for label in models if "input dropout" in label)
    assert all("course λ" in label for label in models if label.startswith("L2"))
    differences = table(results, "difference", "Paired differences")
    interval = re.compile(r"^[+−]?[\d.]+ \([+−]?[\d.]+ to [+−]?[\d.]+\)$")
    assert all(interval.match(cell) for row in differences["rows"] for cell in row[1:])
    assert re.search(
        r"the smallest they decide: [\d.]+ to [\d.]+ accuracy points", differences["caption"]
    )
    share = claims(results)["share_of_reliance"]["text"]
    assert re.search(r"At initialization the share was [\d.]+; an even one is 0.10", share)


@pytest.mark.notebooks
def test_figures_and_verdict_say_what_was_measured(results: dict):
    files = [f["file"] for f in results["figures"]]
    assert [Path(f).stem for f in files] == ["tradeoff", "feature_shares"]
    for figure in results["figures"]:
        assert re.search(r"\d\.\d{2}", figure["alt"]), "the alt text carries the numbers"
    verdict = results["verdict"]["text"]
    assert verdict.startswith(("Yes.", "Partly.")), "the fallback and its control held"
    assert len(verdict.split()) <= 60
