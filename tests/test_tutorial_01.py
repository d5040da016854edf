"""Tutorial 01 on the quick profile: what it measures, and that the sentences of issue 9 stay fixed."""

import json
import re
from pathlib import Path

import pytest

from nnreg_keras.formatting import dropout_label, l2_label
from nnreg_keras.pipeline.contract import load
from tests.conftest import landed

STEM = "01_dropout_is_not_a_smaller_network"
pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.fixture(scope="module")
def executed(quick_reports: Path) -> dict:
    return json.loads(landed(quick_reports, STEM, "notebooks", ".ipynb").read_text())


def statements(results: dict) -> list[dict]:
    return [results["verdict"], *results["claims"]]


def all_text(results: dict) -> str:
    """Every sentence and table cell the report shows, both wordings of every statement."""
    parts = [s[k] for s in statements(results) for k in ("text", "alternative")]
    for table in results["tables"]:
        parts += [table["caption"], *map(str, table["columns"])] + [
            str(c) for row in table["rows"] for c in row
        ]
    return "\n".join(parts + [f["caption"] for f in results["figures"]])


def outputs(executed: dict) -> str:
    return "\n".join(
        "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
    )


def table(results: dict, first_column: str) -> dict:
    return next(t for t in results["tables"] if t["columns"][0] == first_column)


def claim(results: dict, name: str) -> dict:
    return next(c for c in results["claims"] if c["name"] == name)


def mean_of(cell: str) -> float:
    return float(cell.split(" ± ")[0])


def test_dropout_keeps_every_parameter_and_a_fixed_mask_does_not(results):
    m = results["metrics"]
    assert (
        m["params_before_dropout"] == m["params_after_dropout"] == m["params_changed_dropout"] > 0
    )
    assert 0 < m["params_changed_fixed_mask"] < m["params_changed_dropout"]
    assert m["claim_same_size"] == 1 and m["claim_one_mask_is_a_smaller_network"] == 1
    assert m["claim_dropout_beats_kept_width"] == 1  # 32 units still overfit in the quick profile


def test_width_sweep_chooses_on_validation_and_the_verdict_names_the_widths(results):
    p, m = results["parameters"], results["metrics"]
    models = table(results, "model")
    validation = models["columns"].index("validation accuracy")
    sweep = {
        int(found[1]): row
        for row in models["rows"]
        if (found := re.fullmatch(r"(\d+) units( \(best on validation\))?", row[0]))
    }
    assert set(sweep) == set(p["widths"]) | {p["width"], m["kept_width"]}
    assert m["kept_width"] == round((1 - p["dropout_rate"]) * p["width"])
    smaller = [w for w in sweep if w < p["width"]]
    assert len(smaller) >= 3
    best = max(sorted(smaller), key=lambda w: mean_of(sweep[w][validation]))
    assert m["best_width"] == best
    assert [w for w, row in sweep.items() if "best on validation" in row[0]] == [best]
    for statement in (results["verdict"], claim(results, "dropout_vs_best_width")):
        for key in ("text", "alternative"):
            assert f"{best} units" in statement[key] and "chosen on validation" in statement[key]
    for key in ("text", "alternative"):
        assert f"{m['kept_width']} units" in results["verdict"][key]
    assert "did better than a smaller network" not in all_text(results)


def test_mask_count_is_an_illustration_not_a_measurement(results, executed):
    p = results["parameters"]
    assert "distinct masks" not in all_text(results)
    text = outputs(executed)
    assert "Illustration, not a measurement" in text
    assert f"{p['steps'] * p['n_train']:,} masks" in text and f"2**{p['width']}" in text


def test_adam_is_not_sgd_where_the_l2_model_is_built(executed):
    markdown = [("".join(c["source"])) for c in executed["cells"] if c["cell_type"] == "markdown"]
    models = next(s for s in markdown if s.startswith("## The models"))
    assert "Adam" in models and "(1 − lr·λ/m)" in models and "does not hold for Adam" in models


def test_labels_give_dropout_rate_and_keep_prob_and_the_course_lambda(results):
    p = results["parameters"]
    text = all_text(results)
    assert dropout_label(p["dropout_rate"]) in text and l2_label(p["l2"], p["n_train"]) in text
    assert "course λ" in l2_label(p["l2"], p["n_train"])
    assert not re.search(r"dropout \d", text), "a dropout strength without its convention"
    assert not re.search(r"L2 [\d.]+(?![\d.]| \(course λ)", text), (
        "an L2 factor without the course's λ"
    )


def test_monte_carlo_reports_the_crossing_and_the_levelled_gap(results):
    m = results["metrics"]
    k_max = results["parameters"]["mc_samples"]
    ks = [row[0] for row in table(results, "k")["rows"]]
    assert k_max in ks and k_max // 2 in ks
    match, gap = claim(results, "mc_matches_inference"), claim(results, "gap_levels_off")
    for statement in (match, gap):
        assert statement["numbers"]["K"] == k_max
    for key in ("text", "alternative"):
        assert "Srivastava et al. (2014)" in match[key] and "k = 50" in match[key]
        assert f"k = {k_max // 2}" in gap[key] and "sampling noise" in gap[key]
    assert m["mc_first_match_k"] <= (m["mc_stays_from_k"] or k_max)
    # The gap levels off: far from the 1/√2 that halving sampling noise would give, and well above it.
    assert m["mc_gap_at_k_max"] / m["mc_gap_at_half"] > 0.85 and m["claim_gap_levels_off"] == 1
    assert m["mc_gap_at_k_max"] > 2 * m["mc_noise_gap_at_k_max"]


def test_figures_of_the_lesson_are_shown_inline(results, executed):
    names = [Path(f["file"]).stem for f in results["figures"]]
    assert names == ["width_sweep", "decision_boundaries", "mc_dropout"]
    images = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(images) == len(names)
    assert executed["metadata"]["papermill"]["duration"] > 0
