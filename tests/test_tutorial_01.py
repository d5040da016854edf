"""Tutorial 01: the lesson's structure, its figures at a phone's width, and what the quick profile's
run measures (statuses that follow from the intervals, tuned settings taken from their grids,
parameter counts, thinned sub-networks, Monte Carlo averaging)."""

import ast
import json
import re
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest

from nnreg_keras import plots, stats
from nnreg_keras.formatting import dropout_label, l2_label
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from tests.conftest import ROOT, landed

STEM = "01_dropout_is_not_a_smaller_network"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "wide_learns_flipped_labels": "higher",
    "smaller_as_accurate_as_dropout": "equal",
    "dropout_lower_log_loss": "lower",
    "dropout_half_as_accurate": "equal",
    "plain_half_less_accurate": "lower",
    "dropout_half_beats_trained_alone": "higher",
    "dropout_sparser": "higher",
    "dropout_trains_slower": "higher",
    "mc_more_accurate": "higher",
    "mc_lower_log_loss": "lower",
}
CELL = re.compile(r"^([+−]?[\d.,]+) \(([+−]?[\d.,]+) to ([+−]?[\d.,]+)\)$")


def source() -> nbformat.NotebookNode:
    return nbformat.read(str(NOTEBOOK), as_version=4)


def number_of(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


# --- the notebook as committed -------------------------------------------------------------------


def test_solution_regions_are_the_dropout_model_and_the_monte_carlo_average_each_checked():
    cells = source().cells
    regions = [i for i, c in enumerate(cells) if "### BEGIN SOLUTION" in c.source]
    assert len(regions) == 1 and cells[regions[0]].source.count("### BEGIN SOLUTION") == 2
    model = cells[regions[0]].source
    assert "def build(" in model and "def mc_average(" in model
    assert re.search(r"### BEGIN SOLUTION\n\s+layers\.append\(BitsDropout\(", model)
    check = cells[regions[0] + 1]
    assert check.cell_type == "code" and "check" in check.metadata.get("tags", [])
    asserts = [n for n in ast.walk(ast.parse(check.source)) if isinstance(n, ast.Assert)]
    assert len(asserts) >= 6 and "build(" in check.source and "mc_average(" in check.source
    assert all(a.msg is not None for a in asserts), "every assert carries a readable message"


def test_exercises_name_a_parameter_and_the_console_command():
    cell = source().cells[-1]
    assert cell.cell_type == "markdown" and cell.metadata.get("tags") == ["exercises"]
    defaults = notebook_defaults(NOTEBOOK)
    commands = re.findall(r"`nnreg-keras run 01([^`]*)`", cell.source)
    assert len(commands) == 4 and "python -m nnreg_keras" not in cell.source
    for name in re.findall(r"-p (\w+) ", " ".join(commands)):
        assert name in defaults, f"the exercise changes an unknown parameter {name!r}"
    assert cell.source.count("Predict first") == 4


def test_expectations_come_before_any_result_and_state_the_margin():
    cells = source().cells
    expect = next(i for i, c in enumerate(cells) if c.source.startswith("## What we expect"))
    first_claim = next(i for i, c in enumerate(cells) if "rec.compare(" in c.source)
    assert expect < first_claim
    text = cells[expect].source
    assert "±`accuracy_margin` (one accuracy point)" in text and "as accurate as" in text
    for reference in ("Hinton et al. 2012", "Srivastava et al. 2014", "figure 11"):
        assert reference in text
    assert notebook_defaults(NOTEBOOK)["accuracy_margin"] == 0.01


def test_default_profile_has_enough_seeds_to_decide_about_one_point():
    defaults = notebook_defaults(NOTEBOOK)
    assert len(defaults["seeds"]) >= 15 and defaults["dropout_rate"] in defaults["dropout_rates"]
    # 2 * the paired sd of test accuracy seen between tuned models (about 1.2 points) / sqrt(15).
    assert stats.detectable_difference(1.2, len(defaults["seeds"])) < 1.0


# --- figures at a phone's width ------------------------------------------------------------------


def drawn_texts(fig: matplotlib.figure.Figure) -> list[matplotlib.text.Text]:
    """The texts a reader sees: titles, axis labels, legend entries and the tick labels in view."""
    texts = list(fig.texts)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            texts += [t.label1 for t in axis.get_major_ticks() if low <= t.get_loc() <= high]
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        texts += ax.get_legend().get_texts() if ax.get_legend() else []
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def overlapping_texts(fig: matplotlib.figure.Figure) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap."""
    fig.canvas.draw()
    texts = drawn_texts(fig)
    boxes = [t.get_window_extent() for t in texts]
    return [
        (texts[i].get_text(), texts[j].get_text())
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if boxes[i].overlaps(boxes[j])
    ]


def smallest_font(fig: matplotlib.figure.Figure) -> float:
    fig.canvas.draw()
    return min(t.get_fontsize() for t in drawn_texts(fig))


def test_figures_are_phone_sized_with_readable_text_that_does_not_overlap():
    rng = np.random.default_rng(0)
    widths = [2, 4, 8, 16, 32, 64, 128]
    panels = {m: {s: rng.uniform(0.7, 0.9, (15, 7)) for s in ("validation", "test")} for m in "ab"}
    lines = {m: {"dropout (tuned), test": rng.uniform(0.8, 0.9, 15)} for m in "ab"}
    xx, yy = np.meshgrid(np.linspace(-1, 1, 60), np.linspace(-1, 1, 60))
    x = rng.uniform(-1, 1, (200, 2))
    titles = [
        "128 units",
        "4 units (chosen)",
        "128 units, rate 0.8 (chosen)",
        "128 units, one fixed mask",
    ]
    probs = {title: rng.uniform(0, 1, xx.size) for title in titles}
    figures = [
        plots.stacked_lines(widths, panels, "width (units per hidden layer)", lines, log2_x=True),
        plots.stacked_lines(list(range(50, 1001, 50)), panels_of(rng), "training step"),
        plots.boundary_grid(xx, yy, probs, x, rng.uniform(0, 1, 200) > 0.5, (xx[0], -0.6 * xx[0])),
    ]
    for fig in figures:
        width, _ = fig.get_size_inches()
        assert 6 <= width <= 7 and smallest_font(fig) >= 10
        assert not overlapping_texts(fig), overlapping_texts(fig)
    boundary = figures[-1]
    dense = [
        a
        for ax in boundary.axes
        for a in ax.collections
        if isinstance(a, matplotlib.collections.PathCollection) or getattr(a, "filled", False)
    ]
    assert dense and all(a.get_rasterized() for a in dense), (
        "filled regions and points are rasterized"
    )


def panels_of(rng: np.random.Generator) -> dict:
    return {
        f"{s} log-loss": {
            name: rng.uniform(0.3, 1.5, (15, 20)) for name in ("no dropout", "dropout")
        }
        for s in ("train", "validation")
    }


# --- what the quick profile's run measures -------------------------------------------------------


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.fixture(scope="module")
def executed(quick_reports: Path) -> dict:
    return json.loads(landed(quick_reports, STEM, "notebooks", ".ipynb").read_text())


def claim(results: dict, name: str) -> dict:
    return next(c for c in results["claims"] if c["name"] == name)


def table(results: dict, first_column: str) -> dict:
    return next(t for t in results["tables"] if t["columns"][0] == first_column)


def rows_by_name(table: dict) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["rows"]}


@pytest.mark.notebooks
def test_every_claim_is_decided_on_the_run_seeds_and_its_status_follows_its_interval(results):
    seeds = len(results["parameters"]["seeds"])
    margin = results["parameters"]["accuracy_margin"]
    assert {c["name"] for c in results["claims"]} == {*CLAIMS, "same_size"}
    for name, expect in CLAIMS.items():
        found = claim(results, name)
        assert found["expect"] == expect and found["seeds"] == seeds
        assert (found.get("margin") == margin) == (expect == "equal")
        decided = stats.status_of(tuple(found["interval"]), expect, found.get("margin"))
        assert found["status"] == decided, name
        assert found["text"].startswith(found["expected"])
    assert claim(results, "same_size")["status"] == "held"


@pytest.mark.notebooks
def test_the_quick_run_shows_the_large_effects(results):
    # Effects far larger than the quick profile's three seeds need: if they break, the lesson broke.
    assert claim(results, "wide_learns_flipped_labels")["difference"] > 0.01
    halved = claim(results, "plain_half_less_accurate")
    assert halved["status"] == "held" and halved["difference"] < -0.05
    thinned = claim(results, "dropout_half_as_accurate")
    assert abs(thinned["difference"]) < 0.02 < abs(halved["difference"])
    assert claim(results, "dropout_sparser")["difference"] > 0
    assert claim(results, "mc_lower_log_loss")["difference"] < 0.01


@pytest.mark.notebooks
def test_the_tuned_settings_come_from_their_grids_and_winners_follow_the_intervals(results):
    p = results["parameters"]
    pairs = table(results, "dropout against")
    assert [row[0] for row in pairs["rows"]] == ["smaller network", "L2", "no regularizer"]
    rows = rows_by_name(pairs)
    widths = {
        int(w)
        for w in re.findall(r"(\d+) units? ×", rows["smaller network"]["chosen on validation"])
    }
    assert widths and all(w in p["widths"] and w < p["width"] for w in widths)
    rates = {float(r) for r in re.findall(r"dropout rate ([\d.]+) \(keep_prob", pairs["caption"])}
    assert rates and rates <= set(p["dropout_rates"])
    assert "smallest accuracy difference this seed count decides" in pairs["caption"]
    for row in rows.values():
        for cell, winner in (
            (row["accuracy (points)"], row["more accurate"]),
            (row["log-loss"], row["lower log-loss"]),
        ):
            mean, low, high = map(number_of, CELL.match(cell).groups())
            assert low <= mean <= high
            assert (winner == "tie") == (low <= 0 <= high)
    assert rows["no regularizer"]["lower log-loss"] == "dropout"


@pytest.mark.notebooks
def test_dropout_keeps_every_parameter_and_one_fixed_mask_trains_a_smaller_network(results):
    p = results["parameters"]
    rows = rows_by_name(table(results, "model"))
    kept = round((1 - p["dropout_rate"]) * p["width"])
    dropout = rows[f"{p['width']} units + {dropout_label(p['dropout_rate'])}"]
    fixed = rows[f"{p['width']} units + one fixed mask at {dropout_label(p['dropout_rate'])}"]
    plain, small = rows[f"{p['width']} units"], rows[f"{kept} units"]
    for row in rows.values():
        assert row["before"] == row["after"]
    count = number_of(dropout["before"])
    assert (
        count == number_of(plain["before"]) == 2 * p["width"] + p["width"] ** 2 + 3 * p["width"] + 1
    )
    assert number_of(dropout["changed by training"]) > number_of(plain["changed by training"])
    assert number_of(fixed["changed by training"]) <= number_of(small["before"]) < count


@pytest.mark.notebooks
def test_thinned_sub_networks_and_monte_carlo_average_have_their_rows(results):
    p = results["parameters"]
    networks = table(results, "network")
    assert [row[0] for row in networks["rows"]][1::2] == [
        "its thinned sub-networks",
        "its random halves",
    ]
    assert f"mean over {p['sub_networks']} masks" in networks["caption"]
    mc = table(results, "k")
    ks = [row[0] for row in mc["rows"]]
    assert ks[0] == 1 and ks[-1] == p["mc_samples"] and p["mc_samples"] // 2 in ks
    assert f"Averaging {p['mc_samples']} passes" in claim(results, "mc_more_accurate")["text"]


@pytest.mark.notebooks
def test_labels_give_dropout_rate_and_keep_prob_and_the_course_lambda(results):
    p = results["parameters"]
    text = json.dumps(results, ensure_ascii=False)
    assert dropout_label(p["dropout_rate"]) in text
    assert any(l2_label(s, p["n_train"]) in text for s in p["l2s"])
    assert not re.search(r"dropout \d", text), "a dropout strength without its convention"
    assert not re.search(r"L2 [\d.]+(?![\d.]| \(course λ)", text), "an L2 factor without λ"


@pytest.mark.notebooks
def test_verdict_answers_both_questions_from_the_decided_findings(results):
    p, verdict = results["parameters"], results["verdict"]["text"]
    assert len(verdict.split()) <= 60 and verdict.startswith("No: the dropout network keeps all")
    rows = rows_by_name(table(results, "model"))
    assert rows[f"{p['width']} units + {dropout_label(p['dropout_rate'])}"]["before"] in verdict
    status = claim(results, "smaller_as_accurate_as_dropout")["status"]
    wording = {
        "held": "was as accurate as dropout, within ±1 point",
        "did not hold": "differed from dropout by more than ±1 point",
        "inconclusive": "was not shown as accurate as dropout within ±1 point",
    }[status]
    assert wording in verdict and "a plain network's half" in verdict


@pytest.mark.notebooks
def test_figures_are_inline_and_the_boundary_figure_stays_light(results, executed, quick_reports):
    names = [Path(f["file"]).stem for f in results["figures"]]
    assert names == ["width_sweep", "learning_curves", "decision_boundaries"]
    run = quick_reports / "runs" / STEM
    boundary = (run / results["figures"][2]["file"]).read_text()
    assert len(boundary) < 250_000 and "<image" in boundary
    images = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(images) == len(names)
    for figure in results["figures"]:
        assert re.search(r"\d", figure["alt"]), "the alt text gives the finding with its numbers"


@pytest.mark.notebooks
def test_adam_is_not_sgd_where_the_l2_model_is_built(executed):
    markdown = ["".join(c["source"]) for c in executed["cells"] if c["cell_type"] == "markdown"]
    models = next(s for s in markdown if s.startswith("## The models"))
    assert "Adam" in models and "(1 − lr·λ/m)" in models and "does not hold for Adam" in models
