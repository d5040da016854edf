"""Tutorial 05: strengths tuned on validation in every situation, claims decided on paired per-seed
differences, the "when to use which" table whose winners the intervals support, the explorable
sweep figure, and the student's solution region with its check cell."""

import re
from pathlib import Path

import nbformat
import pytest

from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "05_how_much_and_which"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "field_l2_beats_none",
    "field_dropout_beats_none",
    "field_l2_as_good_as_dropout",
    "dropout_trains_slower",
    "field_combined_as_good",
    "smaller_network_as_good",
    "gain_larger_when_wide",
    "gain_shrinks_with_data",
    "digits_l2_beats_none",
    "digits_dropout_beats_none",
    "standardising_helps_l2",
}
EQUIVALENCE = {"field_l2_as_good_as_dropout", "field_combined_as_good", "smaller_network_as_good"}
CELL = re.compile(
    r"([+−]?[\d.]+(?:e[+−]\d+)?) \(([+−]?[\d.]+(?:e[+−]\d+)?) to ([+−]?[\d.]+(?:e[+−]\d+)?)\)"
)


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


def interval(cell: str) -> tuple[float, float, float]:
    """(difference, low, high) of a `Comparison.cell()` such as '+1.20 (+0.40 to +2.00)'."""
    found = CELL.fullmatch(cell)
    assert found, cell
    return tuple(float(v.replace("−", "-")) for v in found.groups())


def test_the_student_writes_the_validated_choice_and_a_check_cell_follows():
    cells = nbformat.read(str(NOTEBOOK), as_version=4).cells
    solution = [i for i, c in enumerate(cells) if "### BEGIN SOLUTION" in c.source]
    assert len(solution) == 1 and "### END SOLUTION" in cells[solution[0]].source
    assert "def validated(" in cells[solution[0]].source
    check = cells[solution[0] + 1]
    assert check.cell_type == "code" and "check" in check.metadata.get("tags", [])
    assert check.source.count("assert validated(") >= 3
    used = "".join(c.source for c in cells[solution[0] + 2 :] if c.cell_type == "code")
    assert "sweeps.tune(" in used and ", validated)" in used  # the experiment uses it
    exercises = cells[-1]
    assert exercises.cell_type == "markdown" and "exercises" in exercises.metadata.get("tags", [])
    assert exercises.source.count("`nnreg-keras run 05 -p ") >= 4
    assert "python -m nnreg_keras" not in exercises.source and "Predict" in exercises.source


def test_the_margin_is_stated_before_any_result():
    cells = nbformat.read(str(NOTEBOOK), as_version=4).cells
    first_training = next(i for i, c in enumerate(cells) if "= train(" in c.source)
    expectations = next(i for i, c in enumerate(cells) if c.source.startswith("## What we expect"))
    assert expectations < first_training
    assert (
        "`margin`" in cells[expectations].source
        and "one accuracy point" in cells[expectations].source
    )


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_paired_interval(results):
    claims = {c["name"]: c for c in results["claims"]}
    assert set(claims) == CLAIMS
    seeds = len(results["seeds"])
    for name, claim in claims.items():
        low, high = claim["interval"]
        assert claim["seeds"] == seeds and low <= claim["difference"] <= high, name
        if name in EQUIVALENCE:
            margin = claim["margin"]
            assert claim["expect"] == "equal" and margin == results["parameters"]["margin"]
            held = -margin <= low and high <= margin
            failed = low > margin or high < -margin
        else:
            assert claim["expect"] == "higher" and "margin" not in claim
            held, failed = low > 0, high < 0
        status = "held" if held else "did not hold" if failed else "inconclusive"
        assert claim["status"] == status, name
        assert claim["text"].startswith(claim["expected"] + ": ")


@pytest.mark.notebooks
def test_when_to_use_which_names_a_winner_only_where_intervals_exclude_zero(results):
    table = results["tables"][0]
    assert table["caption"].startswith("When to use which") and table.get("lead")
    assert table["columns"] == [
        "situation",
        "L2 − none",
        "dropout − none",
        "L2 − dropout",
        "winner",
    ]
    p = results["parameters"]
    situations = [row[0] for row in table["rows"]]
    assert situations[0] == f"2-D field, {p['n_train']} points, {p['width']} units"
    for needed in (
        *(f"2-D field, {size} points" for size in p["train_sizes"]),
        f"2-D field, {p['widths'][0]} units",
        f"digits, {p['digits_n_train']} images",
        "mixed units",
    ):
        assert any(s.startswith(needed) for s in situations), needed
    for _, *cells, winner in table["rows"]:
        (l2_none, dropout_none, l2_dropout) = (interval(c) for c in cells)
        beats = {  # (winner, loser) where the interval excludes zero
            pair if low > 0 else pair[::-1]
            for pair, (_, low, high) in zip(
                (("L2", "none"), ("dropout", "none"), ("L2", "dropout")),
                (l2_none, dropout_none, l2_dropout),
                strict=True,
            )
            if low > 0 or high < 0
        }
        unbeaten = [c for c in ("L2", "none", "dropout") if c not in {lo for _, lo in beats}]
        expected = (
            unbeaten[0]
            if len(unbeaten) == 1
            else "tie"
            if len(unbeaten) == 3
            else f"tie ({', '.join(unbeaten)})"
        )
        assert winner == expected, (cells, winner)
    assert table["caption"].count("half-widths") == 1
    assert results["metrics"]["regularizer_wins"] == sum(
        row[-1] in ("L2", "dropout") for row in table["rows"]
    )


@pytest.mark.notebooks
def test_strengths_are_validated_per_situation_with_lambda_for_its_own_m(results):
    behind = results["tables"][1]
    assert behind["caption"].startswith("The numbers behind it")
    p = results["parameters"]
    sizes = {f"2-D field, {size} points": size for size in p["train_sizes"]}
    for situation, validated, none, l2, dropout, untrained in behind["rows"]:
        found = re.fullmatch(
            r"L2 ([\d.e-]+) \(course λ ([\d.e-]+)\) and dropout rate ([\d.]+) \(keep_prob [\d.]+\)",
            validated,
        )
        assert found, validated
        keras_l2, lambd, rate = (float(v) for v in found.groups())
        assert lambd in p["lambds"] and rate in p["dropout_rates"]
        m = sizes.get(situation, p["digits_n_train"] if "digits" in situation else p["n_train"])
        if situation.startswith("mixed"):
            m = p["scales_n_train"]
        assert keras_l2 == pytest.approx(lambd / (2 * m), rel=1e-2), situation
        means = [float(text.split(" ± ")[0]) for text in (none, l2, dropout, untrained)]
        chance = 0.1 if "digits" in situation else 0.5
        assert all(chance < mean <= 1 for mean in means[:3]), situation
        assert abs(means[3] - chance) < 0.25, situation  # before training: about chance


@pytest.mark.notebooks
def test_the_sweep_figure_is_one_group_of_frames_with_measured_alt_texts(results, quick_reports):
    p = results["parameters"]
    frames = [f for f in results["figures"] if f.get("group") == "boundaries"]
    assert len(frames) == 1 + len(p["lambds"]) + len(p["dropout_rates"])
    positions = [results["figures"].index(f) for f in frames]
    assert positions == list(range(positions[0], positions[0] + len(frames)))  # consecutive
    assert frames[0]["frame"] == "none"
    for frame, lambd in zip(frames[1:], p["lambds"], strict=False):
        assert frame["frame"].startswith("L2 ") and f"(course λ {lambd:g})" in frame["frame"]
    for frame in frames:
        assert re.search(r"train 0\.\d{3}, test 0\.\d{3} accuracy", frame["alt"]), frame["alt"]
        assert (quick_reports / "runs" / STEM / frame["file"]).is_file()
    others = [f for f in results["figures"] if f.get("group") is None]
    assert [Path(f["file"]).stem for f in others] == ["field_sweeps", "capacity", "gains"]
    for figure in others:
        assert re.search(r"\d\.\d", figure["alt"]), figure["file"]  # a finding in numbers


@pytest.mark.notebooks
def test_the_verdict_reports_the_decisive_comparisons_with_their_intervals(results):
    claims = {c["name"]: c for c in results["claims"]}
    verdict = results["verdict"]["text"]
    assert verdict.startswith("Tune strengths on validation")
    assert len(verdict.split()) <= 60
    for name in ("field_l2_as_good_as_dropout", "smaller_network_as_good"):
        low, high = (100 * v for v in claims[name]["interval"])
        assert (
            f"to {low:+.2f}".replace("-", "−") in verdict
            or f"{low:+.2f}".replace("-", "−") in verdict
        ), name
