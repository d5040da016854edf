"""Reliance measures on models with a known answer, and tutorial 02's parameters."""

import numpy as np
import pytest

from nnreg_keras import reliance
from nnreg_keras.data import make_height
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.rules import check_parameters
from nnreg_keras.training import keras
from tests.conftest import ROOT

NOTEBOOK = ROOT / "tutorials" / "02_input_dropout_spreads_reliance.ipynb"


@pytest.fixture(scope="module")
def one_feature_task():
    """Four standard-normal features; the label is the sign of feature 2, and the model looks only at it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 4)).astype("float32")
    y = (x[:, 2] > 0).astype("float32")
    model = lambda xs: 1 / (1 + np.exp(-5 * xs[:, 2]))  # noqa: E731
    return x, y, model, np.zeros(4, dtype="float32")


@pytest.mark.parametrize("metric", ["accuracy", "loss"])
def test_reliance_of_a_model_that_uses_one_feature_is_all_on_that_feature(one_feature_task, metric):
    x, y, model, fill = one_feature_task
    lost = reliance.reliance(model, x, y, fill, metric)
    assert lost[[0, 1, 3]] == pytest.approx(0.0, abs=1e-12)
    assert lost[2] > 0.3
    assert reliance.shares(lost) == pytest.approx([0, 0, 1, 0])
    if (
        metric == "accuracy"
    ):  # feature 2 at its mean: every probability is 0.5, predicted as class 0
        assert lost[2] == pytest.approx(
            1 - (1 - y.mean())
        )  # from all right to the share of class 0
    permuted = reliance.permutation_importance(model, x, y, repeats=2, seed=1, metric=metric)
    assert reliance.shares(permuted) == pytest.approx([0, 0, 1, 0])


def test_permutation_importance_is_seeded(one_feature_task):
    x, y, model, _ = one_feature_task
    first = reliance.permutation_importance(model, x, y, repeats=3, seed=7)
    assert np.array_equal(first, reliance.permutation_importance(model, x, y, repeats=3, seed=7))
    assert not np.array_equal(
        first, reliance.permutation_importance(model, x, y, repeats=3, seed=8)
    )
    assert first[2] == pytest.approx(
        0.5, abs=0.03
    )  # a shuffled sign agrees with the label half the time


def test_feature_report_of_a_keras_model_reads_the_first_dense_layer_behind_input_dropout():
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dropout(0.4),
            keras.layers.Dense(2, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    kernel = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]], dtype="float32")
    model.layers[1].set_weights([kernel, np.zeros(2, dtype="float32")])
    assert reliance.first_layer_weight_norms(model) == pytest.approx([0.0, 5.0, 1.0])
    x = np.random.default_rng(0).standard_normal((50, 3)).astype("float32")
    report = reliance.feature_report(
        model, x, (x[:, 1] > 0).astype("float32"), np.zeros(3), repeats=2
    )
    assert report["weight_norm"] == pytest.approx([0.0, 5 / 6, 1 / 6])
    assert report["accuracy_missing"].shape == report["permutation"].shape == (3,)
    assert 0 <= report["accuracy"] <= 1


def test_shares_ignore_negative_noise_and_keep_an_all_zero_row():
    assert reliance.shares([0.3, -0.1, 0.1]) == pytest.approx([0.75, 0.0, 0.25])
    assert reliance.shares([[0.0, -0.2], [1.0, 1.0]]) == pytest.approx(
        np.array([[0, 0], [0.5, 0.5]])
    )


def test_bad_measure_inputs_name_the_parameter(one_feature_task):
    x, y, model, fill = one_feature_task
    with pytest.raises(ParameterError, match="metric must be one of accuracy, loss, got 'auc'"):
        reliance.reliance(model, x, y, fill, "auc")
    with pytest.raises(ParameterError, match="repeats must be a positive integer, got 0"):
        reliance.permutation_importance(model, x, y, repeats=0)
    with pytest.raises(ParameterError, match="model must be a Keras model or a function"):
        reliance.reliance("height", x, y, fill)
    with pytest.raises(ParameterError, match="has no layer with a kernel"):
        reliance.first_layer_weight_norms(
            keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dropout(0.1)])
        )


def test_notebook_parameters_follow_the_shared_rules():
    defaults = notebook_defaults(NOTEBOOK)
    assert check_parameters(NOTEBOOK.stem, defaults, defaults) == defaults
    with pytest.raises(ParameterError, match="'input_rates' = \\[0.2, 1.0\\]"):
        check_parameters(NOTEBOOK.stem, {**defaults, "input_rates": [0.2, 1.0]}, defaults)
    make_height(
        defaults["n_train"], defaults["n_test"], defaults["correlations"], defaults["label_noise"]
    )


def test_per_seed_stacks_a_measure_of_one_model():
    reports = [
        {"accuracy": 0.8, "reliance": np.array([0.5, 0.5])},
        {"accuracy": 0.9, "reliance": np.array([1.0, 0.0])},
    ]
    assert reliance.per_seed(reports, "accuracy") == pytest.approx([0.8, 0.9])
    assert reliance.per_seed(reports, "reliance").shape == (2, 2)
    assert reliance.per_seed(reports, "reliance", 0) == pytest.approx([0.5, 1.0])


def test_best_at_clean_accuracy_ignores_settings_below_the_floor():
    clean, missing = [0.83, 0.85, 0.78, 0.84], [0.64, 0.79, 0.80, 0.77]
    assert (
        reliance.best_at_clean_accuracy(clean, missing, floor=0.83) == 1
    )  # 0.80 is below the floor
    assert reliance.best_at_clean_accuracy(clean, missing, floor=0.7) == 2
    assert (
        reliance.best_at_clean_accuracy(clean, [0.9, 0.4, 0.1, 0.5], 0.83, lower_is_better=True)
        == 1
    )
    with pytest.raises(ParameterError, match="no setting reaches a clean accuracy of 0.9"):
        reliance.best_at_clean_accuracy(clean, missing, floor=0.9)
    with pytest.raises(ParameterError, match="same length"):
        reliance.best_at_clean_accuracy(clean, missing[:2], floor=0.8)


def test_tradeoff_curves_draw_one_curve_per_method_in_each_panel():
    from nnreg_keras import plots

    clean = {
        "input dropout": np.array([[0.8, 0.85], [0.82, 0.84]]),
        "L2": np.array([[0.8, 0.86], [0.82, 0.85]]),
    }
    missing = {
        "input dropout": np.array([[0.6, 0.78], [0.62, 0.8]]),
        "L2": np.array([[0.6, 0.7], [0.62, 0.71]]),
    }
    fig = plots.tradeoff_curves(
        clean,
        {"missing": missing, "again": missing},
        {"input dropout": ["none", "rate 0.4"], "L2": ["none", "l2 0.01"]},
    )
    assert len(fig.axes) == 2
    first = fig.axes[0]
    assert [t.get_text() for t in first.texts] == ["none", "rate 0.4", "none", "l2 0.01"]
    assert first.get_lines()[0].get_xydata() == pytest.approx(
        np.array([[0.81, 0.61], [0.845, 0.79]])
    )


def test_change_reports_means_gains_and_seed_counts():
    before = [
        {"accuracy": 0.8, "reliance": np.array([0.9, 0.1])},
        {"accuracy": 0.7, "reliance": np.array([0.8, 0.2])},
    ]
    after = [
        {"accuracy": 0.9, "reliance": np.array([0.5, 0.5])},
        {"accuracy": 0.6, "reliance": np.array([0.9, 0.1])},
    ]
    moved = reliance.change(before, after, feature=0)
    assert moved["clean_0"] == pytest.approx(0.75) and moved["clean_1"] == pytest.approx(0.75)
    assert moved["clean_up"] == 1 and moved["clean_down"] == 1
    assert moved["share_gain"] == pytest.approx(-0.15) and (
        moved["share_up"],
        moved["share_down"],
    ) == (1, 1)
    assert "weights_0" not in moved  # not measured (a model that is not Keras)
    with pytest.raises(ParameterError, match="same seeds"):
        reliance.change(before, after[:1], feature=0)
