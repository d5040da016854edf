"""Divergence is stopped with one message naming the model, the step and the cause; strong
regularization that settles on the majority class is not divergence."""

import math

import numpy as np
import pytest

from nnreg_keras import guards, scratch
from nnreg_keras.exceptions import DivergenceError


def _data(m=200, seed=0, positive=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, m))
    Y = (X[0:1] + 0.3 * rng.normal(size=(1, m)) > np.quantile(X[0], 1 - positive)).astype(float)
    return X, Y


@pytest.mark.parametrize(
    "learning_rate, cause", [(1e6, "cost became inf"), (50.0, "the weights exploded")]
)
def test_numpy_training_that_diverges_stops_with_the_cause(learning_rate, cause):
    X, Y = _data()
    with pytest.raises(DivergenceError) as err:
        scratch.train(
            X,
            Y,
            learning_rate=learning_rate,
            num_iterations=400,
            record_every=20,
            eval_sets={"train": (X, Y)},
        )
    message = str(err.value)
    assert message.startswith("training diverged: model 'numpy model' at step ")
    assert cause in message and f"lower learning_rate, now {learning_rate:g}" in message


def test_keras_training_that_diverges_stops_at_the_first_record():
    import keras

    from nnreg_keras.training import fit_full_batch, set_seed

    X, Y = _data()
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="wide",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e6), loss="binary_crossentropy")
    with pytest.raises(DivergenceError, match=r"model 'wide' at step 10: .* now 1e\+06"):
        fit_full_batch(model, X.T, Y.T, steps=40, record_every=10)


def test_strong_l2_settling_on_the_majority_class_is_not_divergence():
    X, Y = _data(positive=0.3)
    _, records = scratch.train(
        X,
        Y,
        learning_rate=0.3,
        num_iterations=600,
        record_every=100,
        lambd=500.0,
        eval_sets={"train": (X, Y)},
    )
    majority = max(Y.mean(), 1 - Y.mean())
    assert records[-1]["train_accuracy"] == pytest.approx(
        majority
    )  # the majority class, everywhere
    assert records[-1]["cost"] <= records[0]["cost"]


def test_chance_level_with_a_rising_loss_is_divergence():
    records = [
        {"step": 100, "fit_loss": 0.6, "train_accuracy": 0.8},
        {"step": 200, "fit_loss": 7.5, "train_accuracy": 0.5},
    ]
    with pytest.raises(
        DivergenceError,
        match=r"at step 200: accuracy fell to chance level \(0.50\) "
        r"while the loss rose from 0.6 to 7.5",
    ):
        guards.check_record(records, "m", 0.01, [np.ones(3)])
    records[1]["fit_loss"] = 0.55  # chance accuracy, falling loss: a model that predicts one class
    guards.check_record(records, "m", 0.01, [np.ones(3)])
    records[1]["fit_loss"] = math.inf
    with pytest.raises(DivergenceError, match="fit_loss became inf"):
        guards.check_record(records, "m", 0.01, [np.ones(3)])


def test_the_weights_root_mean_square_may_be_given_as_a_number():
    """A stacked model computes each model's root mean square where its weights are."""
    records = [{"step": 10, "fit_loss": 0.6, "train_accuracy": 0.8}]
    weights = [np.full((2, 3), 2e3), np.full(4, 2e3)]
    for given in (weights, 2e3):
        with pytest.raises(
            DivergenceError, match=r"the weights exploded \(root mean square 2e\+03\)"
        ):
            guards.check_record(records, "m", 0.01, given)
    with pytest.raises(DivergenceError, match="the weights became infinite or NaN"):
        guards.check_record(records, "m", 0.01, math.nan)
    guards.check_record(records, "m", 0.01, 1.0)
