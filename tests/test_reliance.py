"""Reliance measures on models with a known answer, and tutorial 02's parameters."""

import numpy as np
import pytest

from nnreg_keras import reliance, stats
from nnreg_keras.data import make_height
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.pipeline.profiles import notebook_defaults
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


def test_the_notebook_defaults_make_a_height_dataset():
    defaults = notebook_defaults(NOTEBOOK)
    data = make_height(
        defaults["n_train"], defaults["n_test"], defaults["correlations"], defaults["label_noise"]
    )
    assert len(data.feature_names) == 10 and data.feature_names[0] == "height"


def test_change_words_follow_the_interval_not_the_mean():
    fell = stats.paired([0.1, 0.2, 0.15], [0.3, 0.35, 0.3], "lower")
    rose = stats.paired([0.3, 0.35, 0.3], [0.1, 0.2, 0.15], "lower")
    unclear = stats.paired([0.1, 0.3, 0.2], [0.2, 0.2, 0.25], "lower")
    assert reliance.change_words(fell) == "fell"
    assert reliance.change_words(rose) == "rose"
    assert unclear.difference < 0 and reliance.change_words(unclear) == "did not change measurably"
    assert reliance.change_words(stats.paired([0.1], [0.2])) == "was measured on one seed only"


def test_answer_says_yes_only_when_every_effect_held():
    held = stats.paired([0.3, 0.35, 0.3], [0.1, 0.2, 0.15])
    against = stats.paired([0.1, 0.2, 0.15], [0.3, 0.35, 0.3])
    unclear = stats.paired([0.1, 0.3, 0.2], [0.2, 0.2, 0.25])
    assert reliance.answer(held, held) == "Yes"
    assert reliance.answer(held, unclear) == reliance.answer(held, against) == "Partly"
    assert reliance.answer(against, unclear) == "No"
    assert reliance.answer(unclear, unclear) == "Not shown"


def test_per_seed_stacks_a_measure_of_one_model():
    reports = [
        {"accuracy": 0.8, "reliance": np.array([0.5, 0.5])},
        {"accuracy": 0.9, "reliance": np.array([1.0, 0.0])},
    ]
    assert reliance.per_seed(reports, "accuracy") == pytest.approx([0.8, 0.9])
    assert reliance.per_seed(reports, "reliance").shape == (2, 2)
    assert reliance.per_seed(reports, "reliance", 0) == pytest.approx([0.5, 1.0])


def test_matched_setting_is_the_closest_score_and_says_whether_it_is_within_the_tolerance():
    validation = [0.88, 0.86, 0.845, 0.80]
    assert reliance.matched_setting(validation, 0.85, tolerance=0.01) == (2, True)
    assert reliance.matched_setting(validation, 0.70, tolerance=0.02) == (3, False)
    assert reliance.matched_setting(validation, 0.88, tolerance=0.0) == (0, True)
    with pytest.raises(ParameterError, match="non-empty 1-D array"):
        reliance.matched_setting([], 0.8, 0.01)
    with pytest.raises(ParameterError, match="tolerance must be a finite number >= 0"):
        reliance.matched_setting(validation, 0.8, -0.01)


def test_tradeoff_curves_draw_one_curve_per_method_in_stacked_panels_with_labels_off_the_points():
    from nnreg_keras import plots

    clean = {
        "input dropout": np.array([[0.8, 0.85], [0.82, 0.84]]),
        "L2": np.array([[0.8, 0.86], [0.82, 0.85]]),
        "a control": np.array([[0.9], [0.88]]),
    }
    missing = {k: v - 0.2 for k, v in clean.items()}
    labels = {"input dropout": ["none", "0.4"], "L2": ["", "0.01"], "a control": [""]}
    fig = plots.tradeoff_curves(clean, {"missing": missing, "again": missing}, labels)
    first, second = fig.axes
    assert first.get_position().y0 > second.get_position().y1  # stacked, one above the other
    assert [t.get_text() for t in first.texts] == ["none", "0.4", "0.01"]  # no empty labels
    assert all(t.get_fontsize() >= 10 for t in first.texts)
    assert all(t.xyann == (7, 7) for t in first.texts)  # set off from the marker, in points
    assert first.get_lines()[0].get_xydata() == pytest.approx(
        np.array([[0.81, 0.61], [0.845, 0.645]])
    )
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(clean)
    assert fig.get_figwidth() == pytest.approx(plots.PHONE_WIDTH)


def test_feature_shares_name_each_feature_on_its_row_and_draw_the_even_share():
    from nnreg_keras import plots

    shares = {"a": np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2]]), "b": np.full((2, 3), 1 / 3)}
    fig = plots.feature_shares(
        ["height", "arm_span", "pulse"], {"reliance": shares}, reference=1 / 3
    )
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["height", "arm_span", "pulse"]
    assert ax.get_yticks()[0] > ax.get_yticks()[-1]  # the first feature on top
    assert len(ax.patches) == 6 and ax.patches[0].get_width() == pytest.approx(0.6)
    assert ax.get_lines()[-1].get_xdata()[0] == pytest.approx(1 / 3)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
