"""Tutorial 04 (dropout as adaptive L2) on the quick profile: its findings, and the wording rules of
issue 9 (items 1, 7, 8 and 10) that keep its sentences within what it measures."""

import re

import nbformat
import pytest

from nnreg_keras import render
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "04_dropout_as_adaptive_l2"
ZERO = re.compile(r"^[-−]?0\.0+$")  # "0.000": a small value hidden by too few decimals
pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def results(quick_reports):
    return load(landed(quick_reports, STEM))


def claim(results, name):
    return next(c for c in results["claims"] if c["name"] == name)


def wordings(results):
    return [s[k] for s in (results["verdict"], *results["claims"]) for k in ("text", "alternative")]


def test_the_quadratic_penalty_the_learned_weights_and_the_linear_equivalence(results):
    m = results["metrics"]
    assert claim(results, "quadratic_penalty")["held"] and 0 < m["penalty_max_abs_error_pct"] <= 10
    assert m["distance_dropout_adaptive"] < 0.5 * m["distance_dropout_l2"]
    assert m["linear_gap_trained"] < 0.05 < m["linear_gap_least_squares"]


def test_item_1_each_method_is_invariant_to_the_transformation_the_measurements_say(results):
    m, tolerance = results["metrics"], results["parameters"]["tolerance"]
    assert m["change_dropout_rescaled"] <= tolerance < m["change_dropout_shifted"]
    assert m["change_L2_shifted"] <= tolerance < m["change_L2_rescaled"]
    for method in ("dropout_std", "L2_std"):
        assert m[f"change_{method}_rescaled"] < 1e-4 and m[f"change_{method}_shifted"] < 1e-4
    invariance = claim(results, "invariance")
    assert invariance["held"]
    for wording in (invariance["text"], invariance["alternative"]):
        assert "rescal" in wording and "shift" in wording, (
            "the sentence must name both transformations"
        )
    # the old sentence, true for rescaling only, must not come back
    assert not any("invariant to the units" in w for w in wordings(results))


def test_item_1_what_standardising_leaves_is_the_dependence_on_uncertainty(results):
    m = results["metrics"]
    leaves = claim(results, "standardising_leaves_uncertainty")
    assert leaves["held"] and "p(1 − p)" in leaves["text"]
    assert (
        m["strength_span_sd_zero"]
        < 1.05
        < m["strength_span_sd_fit"]
        < m["strength_span_unit"] / 100
    )


def test_item_7_the_notebook_says_adam_is_not_plain_gradient_descent():
    nb = nbformat.read(str(ROOT / "tutorials" / f"{STEM}.ipynb"), as_version=4)
    prose = [" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown"]
    said = [text for text in prose if "Adam is not plain gradient descent" in text]
    assert said and "does not hold" in said[0] and r"\lambda/m" in said[0]


def test_item_8_dropout_and_l2_are_labelled_in_both_conventions(results):
    text = " ".join(
        t["caption"] + " " + " ".join(map(str, sum(t["rows"], []))) for t in results["tables"]
    )
    assert "dropout rate 0.5 (keep_prob 0.5)" in text
    assert re.search(r"L2 [\d.e-]+ \(course λ [\d.]+\)", text)
    assert "dropout 0.5" not in text.replace("dropout rate 0.5", "")


def test_item_10_no_table_shows_a_small_value_as_zero(results):
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
    errors = next(t for t in results["tables"] if "its standard error" in t["columns"])
    column = errors["columns"].index("its standard error")
    assert all(
        0 < float(row[column]) < 0.01 for row in errors["rows"]
    )  # 1e-4 or so, written as such
