"""Tutorial 05: a lesson in plain Keras (one model.fit in view, then every setting at once), strengths
tuned on validation in every situation with each model read at its best validation step, each gain
over none quoted for itself, choices on the edge of a grid marked, a "when to use which" table whose
winners the intervals support, a short answer in plain words, and the student's solution region with
its nbgrader check cell."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from nnreg_keras import stats
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "05_how_much_and_which"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
SITUATIONS = ("field", "digits")
VERSUS_NONE = {f"{key}_{name}_vs_none" for key in SITUATIONS for name in ("l2", "dropout")}
EQUIVALENCE = {"field_l2_as_good_as_dropout", "smaller_network_as_good"}
CLAIMS = VERSUS_NONE | EQUIVALENCE  # fewer units, more data, both together: tutorial 10
NUMBER = r"[+−]?[\d.]+(?:e[+−]\d+)?"
CELL = re.compile(rf"({NUMBER}) \(({NUMBER}) to ({NUMBER})\)")


def cells() -> list:
    return nbformat.read(str(NOTEBOOK), as_version=4).cells


def code() -> str:
    return "\n".join(c.source for c in cells() if c.cell_type == "code")


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.fixture(scope="module")
def parameters(quick_reports: Path) -> dict:
    return json.loads((quick_reports / "runs" / STEM / "run.json").read_text())["parameters"]


def interval(cell: str) -> tuple[float, float, float]:
    """(difference, low, high) of a `Comparison.cell()` such as '+1.20 (+0.40 to +2.00)'."""
    found = CELL.fullmatch(cell)
    assert found, cell
    return tuple(float(v.replace("−", "-")) for v in found.groups())


def test_the_model_is_plain_keras_trained_once_with_model_fit_then_all_at_once():
    source = code()
    assert re.search(r"^import keras$", source, re.M)
    assert "from nnreg_keras.training import fit_many" in source and ", keras" not in source
    for layer in ("keras.layers.Dense(", "keras.layers.Dropout(", "keras.regularizers.L2("):
        assert layer in source, layer
    assert "BitsDropout" not in source and "check_parameters" not in source
    assert "history = model.fit(" in source and 'history.history["val_loss"]' in source
    assert source.count("fit_many(") == 1 and "sweeps.at_best(" in source
    labelled = [c for c in cells() if "for many models at once" in c.source]
    assert labelled and labelled[0].cell_type == "markdown"


def test_each_parameter_is_typed_once_with_its_rule():
    first = cells()[1]
    assert first.metadata.get("tags") == ["parameters"]
    for line in first.source.splitlines():
        assert re.fullmatch(r"\w+: (int|float|str|list\[(int|float)\]) = .+  # .+; .+", line), line
        assert len(line) <= 100, line


def test_the_student_writes_the_validated_choice_and_an_nbgrader_check_follows():
    notebook = cells()
    solution = [i for i, c in enumerate(notebook) if "### BEGIN SOLUTION" in c.source]
    assert len(solution) == 1 and "def validated(" in notebook[solution[0]].source
    grading = notebook[solution[0]].metadata["nbgrader"]
    assert grading["solution"] and not grading["grade"] and grading["grade_id"] == "05_solution_1"
    check = notebook[solution[0] + 1]
    assert (
        "check" in check.metadata.get("tags", []) and check.source.count("assert validated(") >= 3
    )
    grading = check.metadata["nbgrader"]
    assert grading["grade"] and grading["locked"] and grading["points"] == 1
    others = [c for i, c in enumerate(notebook) if i not in (solution[0], solution[0] + 1)]
    assert not any("nbgrader" in c.metadata for c in others)
    first_training = next(i for i, c in enumerate(notebook) if "sweeps.tune(train(" in c.source)
    assert solution[0] < first_training  # a blank edition fails before the heavy training
    exercises = notebook[-1]
    assert exercises.cell_type == "markdown" and "exercises" in exercises.metadata.get("tags", [])
    assert exercises.source.count("`nnreg-keras run 05 -p ") >= 4 and "Predict" in exercises.source


def test_the_margin_and_the_stopping_rule_are_stated_before_any_result():
    notebook = cells()
    expectations = next(
        i for i, c in enumerate(notebook) if c.source.startswith("## What we expect")
    )
    first_training = next(i for i, c in enumerate(notebook) if "model.fit(" in c.source)
    assert expectations < first_training
    text = " ".join(notebook[expectations].source.split())
    assert "`margin`" in text and "one accuracy point" in text and "best validation step" in text


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_paired_interval(results, parameters):
    claims = {c["name"]: c for c in results["claims"]}
    assert set(claims) == CLAIMS
    seeds = len(parameters["seeds"])
    for name, claim in claims.items():
        low, high = claim["interval"]
        assert claim["seeds"] == seeds and low <= claim["difference"] <= high, name
        assert claim["status"] == stats.claim_status(claim), name
        if name in EQUIVALENCE:
            margin = claim["margin"]
            assert claim["expect"] == "equal" and margin == parameters["margin"]
            if claim["status"] == "held":
                assert -margin <= low and high <= margin, name
        else:
            assert claim["expect"] == "higher" and "margin" not in claim
            if claim["status"] == "held":
                assert low > 0 and claim["p_adjusted"] < 0.05, name
        assert claim["text"].startswith(claim["expected"] + ": ")


@pytest.mark.notebooks
def test_each_gain_over_none_is_quoted_for_itself_and_matches_the_table(results):
    claims = {c["name"]: c for c in results["claims"]}
    table = results["tables"][0]
    for key, row in zip(SITUATIONS, table["rows"], strict=True):
        for name, cell in (("l2", row[1]), ("dropout", row[2])):
            difference, low, high = interval(cell)
            claim = claims[f"{key}_{name}_vs_none"]
            assert difference == pytest.approx(100 * claim["difference"], abs=0.006), (key, name)
            assert (low, high) == pytest.approx([100 * v for v in claim["interval"]], abs=0.006)


@pytest.mark.notebooks
def test_when_to_use_which_names_a_winner_only_where_intervals_exclude_zero(results, parameters):
    table = results["tables"][0]
    assert table["caption"].startswith("When to use which") and table.get("lead")
    assert table["columns"] == [
        "situation",
        "L2 − none",
        "dropout − none",
        "L2 − dropout",
        "winner",
    ]
    p = parameters
    assert [row[0].split(" (")[0] for row in table["rows"]] == [
        f"2-D field, {p['n_train']} points, {p['width']} units",
        f"digits, {p['digits_n_train']} images",
    ]
    for _, *comparisons, winner in table["rows"]:
        beats = set()
        for pair, cell in zip(
            (("L2", "none"), ("dropout", "none"), ("L2", "dropout")), comparisons, strict=True
        ):
            _, low, high = interval(cell)
            if low > 0 or high < 0:
                beats.add(pair if low > 0 else pair[::-1])
        unbeaten = [c for c in ("L2", "none", "dropout") if c not in {lo for _, lo in beats}]
        expected = (
            unbeaten[0]
            if len(unbeaten) == 1
            else "tie"
            if len(unbeaten) == 3
            else f"tie ({', '.join(unbeaten)})"
        )
        assert winner == expected, (comparisons, winner)


@pytest.mark.notebooks
def test_each_choice_is_from_its_grid_for_its_own_m_and_an_edge_is_named(results, parameters):
    p = parameters
    sizes = [p["n_train"], p["digits_n_train"]]
    choice = re.compile(
        r"L2 ([\d.e-]+) \(course λ ([\d.e-]+)\)(, (?:smallest|largest) tried)?; "
        r"dropout rate ([\d.]+) \(keep_prob [\d.]+\)(, (?:smallest|largest) tried)?"
    )
    for row, m in zip(results["tables"][0]["rows"], sizes, strict=True):
        found = choice.search(row[0])
        assert found, row[0]
        keras_l2, lambd, rate = float(found[1]), float(found[2]), float(found[4])
        assert lambd in p["lambds"] and rate in p["dropout_rates"]
        assert keras_l2 == pytest.approx(lambd / (2 * m), rel=1e-2), row[0]
        for value, grid, marked in (
            (lambd, p["lambds"], found[3]),
            (rate, p["dropout_rates"], found[5]),
        ):
            edge = "smallest" if value == min(grid) else "largest" if value == max(grid) else None
            assert (marked or None) == (edge and f", {edge} tried"), row[0]


@pytest.mark.notebooks
def test_the_short_answer_is_plain_and_says_as_good_as_only_when_it_held(results):
    claims = {c["name"]: c for c in results["claims"]}
    verdict = results["verdict"]["text"]
    assert verdict.startswith(("You may not need to", "Because", "This run cannot tell"))
    assert len(verdict.split()) <= 60
    for banned in ("keep_prob", "interval", "share points", " to +", " to −"):
        assert banned not in verdict, banned
    smaller = claims["smaller_network_as_good"]
    assert ("were as good as the wide network" in verdict) == (
        smaller["status"] == "held" and smaller["interval"][0] <= 0 <= smaller["interval"][1]
    )
    if "within a point of" in verdict:
        assert (
            smaller["status"] == "held"
            and not smaller["interval"][0] <= 0 <= smaller["interval"][1]
        )
