"""Tutorial 10 (going further from 05): L2 and dropout tuned on features in mixed units and
standardised, with the standardised network without a regularizer as the control; the decision
boundary along the grid as a group of frames; whether dropout reaches its best step later; and
where tuning stops paying (fewer units, more data, both together, moved here from 05)."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from nnreg_keras import stats
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "10_units_and_boundaries"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "standardising_alone_helps",
    "mixed_units_l2_as_good_as_none",
    "standardised_l2_beats_none",
    "boundary_gap_larger_without_l2",
    "dropout_best_step_later",
}
STOPS_PAYING = {
    *(f"{key}_{name}_vs_none" for key in ("narrow", "more_data") for name in ("l2", "dropout")),
    "field_combined_as_good",
}
CLAIMS |= STOPS_PAYING


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.fixture(scope="module")
def parameters(quick_reports: Path) -> dict:
    return json.loads((quick_reports / "runs" / STEM / "run.json").read_text())["parameters"]


def test_the_model_is_plain_keras_and_the_questions_are_the_threads():
    cells = nbformat.read(str(NOTEBOOK), as_version=4).cells
    source = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert re.search(r"^import keras$", source, re.M)
    for layer in ("keras.layers.Dense(", "keras.layers.Dropout(", "keras.regularizers.L2("):
        assert layer in source, layer
    assert "BitsDropout" not in source and "check_parameters" not in source
    assert "history = model.fit(" in source and source.count("fit_many(") == 1
    assert cells[0].source.count("\n> ") >= 3 and "scale of different inputs" in cells[0].source
    assert cells[1].metadata.get("tags") == ["parameters"]
    for line in cells[1].source.splitlines():
        assert re.fullmatch(r"\w+: (int|float|list\[(int|float)\]) = .+  # .+; .+", line), line
    assert "exercises" in cells[-1].metadata.get("tags", [])
    assert cells[-1].source.count("`nnreg-keras run 10 -p ") >= 3


@pytest.mark.notebooks
def test_each_claim_follows_from_its_interval_and_the_control_is_reported(results, parameters):
    claims = {c["name"]: c for c in results["claims"]}
    assert set(claims) == CLAIMS
    for name, claim in claims.items():
        assert claim["status"] == stats.claim_status(claim), name
        assert claim["seeds"] == len(parameters["seeds"])
    table = results["tables"][0]
    assert [row[0] for row in table["rows"]] == ["mixed units", "standardised"]
    assert table["columns"][1] == "none"  # the standardise-only control, beside tuned L2
    none_means = [float(row[1].split(" ± ")[0]) for row in table["rows"]]
    alone = claims["standardising_alone_helps"]
    assert 100 * (none_means[1] - none_means[0]) == pytest.approx(
        100 * alone["difference"], abs=0.15
    )


@pytest.mark.notebooks
def test_the_boundary_frames_are_one_group_along_the_grid(results, parameters):
    frames = [f for f in results["figures"] if f.get("group") == "boundaries"]
    assert len(frames) == 1 + len(parameters["lambds"]) + len(parameters["dropout_rates"])
    positions = [results["figures"].index(f) for f in frames]
    assert positions == list(range(positions[0], positions[0] + len(frames)))
    assert frames[0]["frame"] == "none"
    shown = [f["frame"].split()[0] for f in frames if f.get("in_report", True)]
    assert shown == ["none", "L2", "dropout"]  # the report: none and the two validated strengths
    for frame in frames:
        assert re.search(r"train [01]\.\d{3}, test [01]\.\d{3} accuracy", frame["alt"]), frame


@pytest.mark.notebooks
def test_the_short_answer_is_built_from_the_control(results):
    claims = {c["name"]: c for c in results["claims"]}
    verdict = results["verdict"]["text"]
    assert verdict.startswith("One difference is scale: standardising by itself ")
    said = {"held": "raised", "did not hold": "lowered"}.get(
        claims["standardising_alone_helps"]["status"], "did not clearly raise"
    )
    assert f"by itself {said} the accuracy" in verdict
    held = claims["mixed_units_l2_as_good_as_none"]["status"] == "held"
    assert ("was as good as none" in verdict or "within a point of" in verdict) == held


@pytest.mark.notebooks
def test_where_tuning_stops_paying_each_is_an_equivalence_within_the_margin(results, parameters):
    claims = {c["name"]: c for c in results["claims"]}
    for name in STOPS_PAYING:
        claim = claims[name]
        assert claim["expect"] == "equal" and claim["margin"] == parameters["margin"], name
        low, high = claim["interval"]
        if claim["status"] == "held":
            assert -claim["margin"] <= low and high <= claim["margin"], name
    for key, row in (
        ("narrow", f"{parameters['narrow_width']} units"),
        ("more_data", f"{parameters['more_data']} points"),
    ):
        for name in ("L2", "dropout"):
            claim = claims[f"{key}_{name.lower()}_vs_none"]
            assert claim["expected"] == f"2-D field, {row}: tuned {name} is as good as none"
            assert re.search(
                rf"Validation chose {'L2' if name == 'L2' else 'dropout rate'} ", claim["text"]
            ), claim["text"]
