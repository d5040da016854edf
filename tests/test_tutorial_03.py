"""Tutorial 03: the course's code shown in the notebook against the tested reference, and the
lesson's findings on the quick profile (issues 8 and 9)."""

import json
import re

import nbformat
import numpy as np
import pytest

from nnreg_keras import scratch
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "03_l2_vs_dropout_from_scratch"
NOTEBOOK = nbformat.read(str(ROOT / "tutorials" / f"{STEM}.ipynb"), as_version=4)
DATA = make_goalkeeper(n_train=40, n_test=10, label_noise=0.1, seed=0)


def course_code_cells() -> list[tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """(cell before, cell) for every cell tagged `course-code`."""
    return [
        (NOTEBOOK.cells[i - 1], cell)
        for i, cell in enumerate(NOTEBOOK.cells)
        if "course-code" in cell.metadata.get("tags", [])
    ]


def course_code() -> dict:
    """The functions the tagged cells define, run with only what the notebook imports for them."""
    namespace = {"np": np, "sigmoid": scratch.sigmoid, "relu": scratch.relu}
    for _, cell in course_code_cells():
        exec(cell.source, namespace)
    return namespace


def results_of(reports) -> dict:
    return load(landed(reports, STEM))


def all_text(results: dict) -> str:
    """Every sentence a reader sees: the notebook's sources and the results' wordings and tables."""
    return "\n".join([c.source for c in NOTEBOOK.cells] + [json.dumps(results, ensure_ascii=False)])


def test_course_code_is_in_the_notebook_in_short_explained_cells():
    cells = course_code_cells()
    assert len(cells) == 3
    for before, cell in cells:
        assert cell.cell_type == "code" and len(cell.source.splitlines()) <= 30
        assert before.cell_type == "markdown" and before.source.strip()
    source = "\n".join(cell.source for _, cell in cells)
    for line in (
        "< keep_prob",
        "A = A * D",
        "A = A / keep_prob",
        "dA = dA * D_prev",
        "dA = dA / keep_prob",
        "lambd / m * W",
        "lambd / (2 * m)",
    ):
        assert line in source
    assert not any("inspect" in cell.source for cell in NOTEBOOK.cells if cell.cell_type == "code")


@pytest.mark.parametrize("dims", [[2, 5, 3, 1], [2, 6, 1]])
@pytest.mark.parametrize("keep_prob", [1.0, 0.8])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_course_code_gives_the_reference_cost_and_gradients(
    dims: list[int], keep_prob: float, lambd: float
):
    code = course_code()
    X, Y, _, _ = scratch.from_dataset(DATA)
    parameters = scratch.model(X, Y, 0.3, num_iterations=20, layer_dims=dims, seed=1)
    AL, caches = code["forward_propagation_with_dropout"](
        X, parameters, keep_prob, np.random.default_rng(5)
    )
    masks = (
        scratch.dropout_masks(dims[1:-1], X.shape[1], keep_prob, np.random.default_rng(5))
        if keep_prob < 1
        else None
    )
    if masks is not None:
        for cache, mask in zip(caches, masks, strict=False):  # no mask at the output
            np.testing.assert_array_equal(cache[1], mask)
    cost, expected = scratch.cost_and_gradients(parameters, X, Y, lambd, keep_prob, masks)
    grads = code["backward_propagation_with_regularization_and_dropout"](
        X, Y, caches, lambd, keep_prob
    )
    assert abs(code["compute_cost_with_regularization"](AL, Y, parameters, lambd) - cost) <= 1e-12
    keys = [f"d{p}{l}" for l in range(1, len(dims)) for p in ("W", "b")]
    assert sorted(grads) == sorted(keys)
    for key in keys:
        np.testing.assert_allclose(grads[key], expected[key], rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.notebooks
def test_tutorial_03_checks_hold(quick_reports):
    results = results_of(quick_reports)
    claims = {c["name"]: c["held"] for c in results["claims"]}
    for name in (
        "course_code_matches_reference",
        "keras_twin_same_gradients",
        "l2_is_a_shrink",
        "one_mask_freezes_dropped_units",
    ):
        assert claims[name], name
    m = results["metrics"]
    assert m["course_code_gap"] <= 1e-12 and m["keras_gradient_gap"] < 1e-5
    assert m["still_share_L2"] == 0 < m["still_share_dropout_one_mask_for_the_batch"]
    assert results["verdict"]["held"]


@pytest.mark.notebooks
def test_tutorial_03_drift_is_measured_against_a_float32_control(quick_reports):  # issue 9, item 6
    results = results_of(quick_reports)
    m = results["metrics"]
    kinds = ("none", "L2", "fixed_mask")
    f32 = [m[f"agreement_steps_float32_{k}"] for k in kinds]
    keras = [m[f"agreement_steps_keras_{k}"] for k in kinds]
    assert all(0 <= h <= results["parameters"]["steps"] for h in f32 + keras)
    claim = next(c for c in results["claims"] if c["name"] == "rounding_explains_the_drift")
    every = results["parameters"]["record_every"]
    assert claim["held"] == all(a <= b + every for a, b in zip(f32, keras, strict=True))
    assert "float32" in claim["text"] and "float64" in claim["text"]
    assert "unstable phase" not in all_text(results)


@pytest.mark.notebooks
def test_tutorial_03_sets_sgd_adam_and_adamw_side_by_side(quick_reports):  # issue 9, item 7
    results = results_of(quick_reports)
    p, m = results["parameters"], results["metrics"]
    table = next(t for t in results["tables"] if any("AdamW" in str(row[0]) for row in t["rows"]))
    labels = [row[0] for row in table["rows"]]
    assert any(label.startswith("SGD + L2") for label in labels) and any(
        label.startswith("Adam + L2") for label in labels
    )
    assert {"weight norm ‖W‖", "test accuracy"} <= set(table["columns"])
    for kind in ("L2", "Adam_plus_L2", "AdamW"):
        assert m[f"keras_weight_norm_{kind}"] > 0 and 0.5 <= m[f"keras_test_accuracy_{kind}"] <= 1
    m_train = p["n_train"]
    assert m["adamw_weight_decay"] == pytest.approx(
        p["learning_rate"] * p["lambd"] / (m_train * p["adam_learning_rate"])
    )
    markdown = "\n".join(c.source for c in NOTEBOOK.cells if c.cell_type == "markdown")
    assert "plain gradient descent only" in markdown and "Loshchilov" in markdown


@pytest.mark.notebooks
def test_tutorial_03_labels_dropout_and_l2_in_both_conventions(quick_reports):  # issue 9, item 8
    results = results_of(quick_reports)
    labels = [str(row[0]) for table in results["tables"] for row in table["rows"]]
    dropout_labels = [label for label in labels if "dropout" in label]
    assert dropout_labels and all(
        "dropout rate 0.14 (keep_prob 0.86)" in label for label in dropout_labels
    )
    assert all("course λ 0.7" in label for label in labels if "L2" in label)
    assert not re.search(r"dropout 0\.86", all_text(results))


@pytest.mark.notebooks
def test_tutorial_03_words_what_the_step_measured(quick_reports):  # issue 9, item 11
    results = results_of(quick_reports)
    text = all_text(results)
    assert "line by line" not in text and "decides per step which weights may move" not in text
    m = results["metrics"]
    claim = next(
        c for c in results["claims"] if c["name"] == "per_example_masks_move_almost_every_weight"
    )
    assert claim["held"] == (
        m["still_share_dropout_masks_per_example"] <= m["still_share_no_regularization"]
    )
    assert (
        m["still_share_dropout_masks_per_example"] < m["still_share_dropout_one_mask_for_the_batch"]
    )
