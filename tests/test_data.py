"""The data generators: what each draws matches its parameters, and bad parameters name themselves."""

import numpy as np
import pytest

from nnreg_keras.data import (
    DATASETS,
    HEIGHT_PROXIES,
    HEIGHT_UNRELATED,
    SCALED_FEATURES,
    goalkeeper_boundary,
    make_goalkeeper,
    make_height,
    make_scaled_features,
    make_scaled_regression,
    rescale_feature,
    shift_feature,
)
from nnreg_keras.exceptions import DatasetError


def test_goalkeeper_noise_matches_its_parameter():
    data = make_goalkeeper(n_train=20000, n_test=10, label_noise=0.2, seed=5)
    clean = data.x_train[:, 1] > goalkeeper_boundary(data.x_train[:, 0])
    assert abs(np.mean(clean != (data.y_train > 0.5)) - 0.2) < 0.01
    assert np.all(np.abs(data.x_train) <= 0.75)


def test_height_correlations_match_the_parameters_on_a_large_sample():
    r = [0.95, 0.7, 0.4, 0.2, -0.3]
    data = make_height(n_train=200_000, n_test=10, correlations=r, label_noise=0.2, seed=3)
    assert data.feature_names == ("height",) + HEIGHT_PROXIES + HEIGHT_UNRELATED
    assert data.x_train.shape == (200_000, 10) and data.x_train.dtype == np.float32
    corr = np.corrcoef(data.x_train.T)[0, 1:]
    assert corr[:5] == pytest.approx(r, abs=0.01)
    assert np.abs(corr[5:]).max() < 0.01
    assert data.x_train.std(axis=0) == pytest.approx(np.ones(10), abs=0.01)
    agrees = np.mean((data.x_train[:, 0] > 0) == (data.y_train > 0.5))
    assert agrees == pytest.approx(
        0.8, abs=0.005
    )  # the label is height's sign, flipped with probability 0.2
    assert data.info["correlations"]["arm_span"] == 0.95 and data.info["best_accuracy"] == 0.8


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_registered_generators_are_reproducible_and_seeded(name):
    make = DATASETS[name]
    a, b = make(n_train=30, n_test=20, seed=5), make(n_train=30, n_test=20, seed=5)
    assert a.name == name and a.x_train.shape[0] == 30 and a.x_test.shape[0] == 20
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, make(n_train=30, n_test=20, seed=6).x_train)


def test_scaled_features_have_their_units_and_follow_the_logistic_model():
    data = make_scaled_features(n_train=20000, n_test=10, seed=3)
    assert data.x_train.shape == (20000, len(SCALED_FEATURES)) and data.x_train.dtype == np.float32
    assert set(np.unique(data.y_train)) == {0.0, 1.0}
    np.testing.assert_allclose(data.x_train.std(axis=0), [f[2] for f in SCALED_FEATURES], rtol=0.05)
    np.testing.assert_allclose(data.x_train.mean(axis=0) / data.x_train.std(axis=0), 0, atol=0.05)
    # The mean label matches the true model's mean probability: P(y = 1) = sigmoid(x · true_weights).
    p = 1 / (1 + np.exp(-data.x_train.astype("float64") @ np.array(data.info["true_weights"])))
    assert data.y_train.mean() == pytest.approx(p.mean(), abs=0.01)
    assert data.info["units"] == tuple(f[1] for f in SCALED_FEATURES)


def test_scaled_regression_target_is_the_linear_score_plus_noise_of_the_given_size():
    x, y, x_test, y_test = make_scaled_regression(n_train=20000, n_test=10, noise=0.5, seed=2)
    assert (
        x.shape == (20000, len(SCALED_FEATURES))
        and y.shape == (20000,)
        and x_test.shape[0] == len(y_test) == 10
    )
    true_w = np.array([f[3] / f[2] for f in SCALED_FEATURES])
    residual = y - x.astype("float64") @ true_w
    assert residual.std() == pytest.approx(0.5, rel=0.03)
    same = make_scaled_regression(n_train=20000, n_test=10, noise=0.5, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip((x, y, x_test, y_test), same, strict=True))


def test_a_unit_change_touches_one_feature_only():
    data = make_scaled_features(n_train=400, n_test=10, seed=3)
    cm = rescale_feature(data, "height", 100.0, "cm")
    np.testing.assert_allclose(cm.x_train[:, 0], 100 * data.x_train[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(cm.x_train[:, 1:], data.x_train[:, 1:])
    np.testing.assert_array_equal(cm.y_train, data.y_train)
    assert cm.info["units"][0] == "cm" and data.info["units"][0] == "m"
    assert cm.info["rescaled"] == {"height": 100.0}


def test_a_shift_of_origin_adds_to_one_feature_only():
    data = make_scaled_features(n_train=400, n_test=10, seed=3)
    absolute = shift_feature(data, "height", 1.75)
    np.testing.assert_allclose(absolute.x_test[:, 0], data.x_test[:, 0] + 1.75, rtol=1e-6)
    np.testing.assert_array_equal(absolute.x_train[:, 1:], data.x_train[:, 1:])
    assert absolute.info["units"] == data.info["units"] and absolute.info["shifted"] == {
        "height": 1.75
    }
    with pytest.raises(DatasetError, match="offset must be a finite number"):
        shift_feature(data, "height", float("nan"))
    with pytest.raises(DatasetError, match="feature must be a feature of the dataset"):
        shift_feature(data, "age", 1.0)


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (make_goalkeeper, {"label_noise": 0.5}, r"label_noise must be in \[0, 0.5\), got 0.5"),
        (make_goalkeeper, {"n_train": 0}, "n_train must be a positive integer, got 0"),
        (make_goalkeeper, {"n_test": 1.5}, "n_test must be a positive integer, got 1.5"),
        (
            make_height,
            {"correlations": [0.9, 0.8]},
            r"correlations must be a list of 5 numbers in \[-1, 1\] \(for arm_span",
        ),
        (
            make_height,
            {"correlations": [0.9, 0.8, 1.5, 0.6, 0.5]},
            r"correlations must be .* got \[0.9, 0.8, 1.5, 0.6, 0.5\]",
        ),
        (make_height, {"correlations": 0.9}, r"correlations must be a list .* got 0.9"),
        (make_height, {"label_noise": 0.5}, r"label_noise must be in \[0, 0.5\), got 0.5"),
        (make_height, {"n_train": 0}, "n_train must be a positive integer, got 0"),
        (make_height, {"n_test": 2.5}, "n_test must be a positive integer, got 2.5"),
        (make_scaled_features, {"n_train": 0}, "n_train must be a positive integer, got 0"),
        (make_scaled_regression, {"n_test": -3}, "n_test must be a positive integer, got -3"),
        (
            make_scaled_regression,
            {"noise": -1.0},
            r"noise must be a number >= 0 \(the sd of the target's noise\), got -1.0",
        ),
    ],
)
def test_bad_generator_parameters_raise_a_dataset_error_naming_them(make, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        make(**kwargs)


def test_bad_unit_changes_name_the_parameter_and_the_accepted_values():
    data = make_scaled_features(n_train=20, n_test=10)
    with pytest.raises(
        DatasetError, match="feature must be a feature of the dataset: height, weight, .* got 'age'"
    ):
        rescale_feature(data, "age", 100.0, "cm")
    with pytest.raises(
        DatasetError, match=r"factor must be a number > 0 \(new units per old unit\), got 0"
    ):
        rescale_feature(data, "height", 0, "cm")
