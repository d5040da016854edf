"""The numpy metrics every training loop reports."""

import subprocess
import sys

import numpy as np
import pytest

from nnreg_keras.metrics import binary_metrics, regression_metrics


def test_binary_metrics_values():
    m = binary_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6]))
    assert m["accuracy"] == 0.5
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.4])))


def test_binary_metrics_clip_saturated_probabilities_as_keras_does():
    m = binary_metrics(
        np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    )  # one sure and wrong, one sure and right
    assert m["loss"] == pytest.approx(-0.5 * (np.log(1e-7) + np.log(1 - 1e-7)))
    assert m["accuracy"] == 0.5


def test_regression_metrics_values():
    m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([[1.0], [2.0], [3.0], [2.0]]))
    assert m["loss"] == pytest.approx(1.0)  # (4 - 2)² / 4
    assert m["r2"] == pytest.approx(1 - 1.0 / 1.25)  # the targets' variance is 1.25


def test_metrics_load_no_backend():
    code = "import sys, nnreg_keras.metrics; print(sorted({'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_categorical_metrics_values_and_shape_check():
    from nnreg_keras.metrics import categorical_metrics

    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.0, 1.0, 0.0]])
    m = categorical_metrics(np.array([[0], [1], [2]]), prob)  # Keras hands labels as a column
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.7, 0.3, 1e-7])))
    with pytest.raises(ValueError, match="classes"):
        categorical_metrics(np.array([0, 3]), prob[:2])
