"""models.FeatureDropout: one dropout rate per input feature, inverted, identity at inference."""

import numpy as np
import pytest

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.models import FeatureDropout
from nnreg_keras.training import _signature, fit_full_batch, keras, predict, set_seed

RATES = [0.5, 0.0, 0.2, 0.8]


def noisy(layer, x):
    return keras.ops.convert_to_numpy(layer(x, training=True))


def test_each_feature_is_kept_at_its_own_rate_and_kept_values_are_scaled_up():
    x = np.full((20000, 4), 2.0, dtype="float32")
    out = noisy(FeatureDropout(RATES, seed=1), x)
    kept = out != 0
    assert kept.mean(axis=0) == pytest.approx([0.5, 1.0, 0.8, 0.2], abs=0.01)
    for j, rate in enumerate(RATES):  # a kept value is x / keep_prob; a dropped one is 0
        assert out[kept[:, j], j] == pytest.approx(2.0 / (1 - rate))
    # every feature keeps its mean, within 5 standard errors of the mean of 2 / keep_prob or 0
    keep = 1 - np.array(RATES)
    error = 2.0 * np.sqrt((1 - keep) / keep / len(x))
    assert np.all(np.abs(out.mean(axis=0) - 2.0) <= 5 * error + 1e-6), (out.mean(axis=0), error)
    # one draw per example and feature: features 0 and 2 are both kept on about 0.5 · 0.8 of rows
    assert np.mean(kept[:, 0] & kept[:, 2]) == pytest.approx(0.4, abs=0.015)


def test_identity_at_inference_and_with_all_rates_zero():
    x = np.random.default_rng(0).standard_normal((50, 4)).astype("float32")
    layer = FeatureDropout(RATES, seed=0)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    assert np.array_equal(noisy(FeatureDropout([0.0] * 4), x), x)


def test_masks_follow_the_seed_and_change_from_call_to_call():
    x = np.ones((200, 4), dtype="float32")
    first, again = FeatureDropout(RATES, seed=3), FeatureDropout(RATES, seed=3)
    one = noisy(first, x)
    assert np.array_equal(one, noisy(again, x))
    assert not np.array_equal(one, noisy(first, x))  # the seed state moved on
    assert not np.array_equal(one, noisy(FeatureDropout(RATES, seed=4), x))
    assert len(first.non_trainable_variables) == 1  # the state lives in a SeedGenerator variable


def build(seed: int, rates=RATES) -> keras.Model:
    set_seed(seed)
    model = keras.Sequential(
        [keras.Input(shape=(4,)), FeatureDropout(rates, seed=seed), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_an_explicit_seed_leaves_the_initial_weights_of_later_layers_as_without_the_layer():
    set_seed(5)
    plain = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    assert np.array_equal(build(5).layers[-1].get_weights()[0], plain.layers[-1].get_weights()[0])


def test_models_differing_in_seed_share_a_traced_step_and_train_as_if_alone():
    x = np.random.default_rng(1).standard_normal((64, 4)).astype("float32")
    y = x @ np.array([1.0, -1.0, 0.5, 2.0], dtype="float32")
    assert _signature(build(0), x, y) == _signature(build(1), x, y)
    assert _signature(build(0), x, y) != _signature(build(0, [0.5, 0.5, 0.2, 0.8]), x, y)
    fit_full_batch(build(0), x, y, 5, 5)  # trains the architecture's shared runner first
    reused, alone = build(1), build(1)
    fit_full_batch(reused, x, y, 20, 10)
    fit_full_batch(alone, x, y, 20, 10, reuse=False)
    for a, b in zip(reused.get_weights(), alone.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert predict(reused, x).shape == (64, 1)


def test_bad_rates_name_the_problem():
    with pytest.raises(ParameterError, match=r"rates\[1\] must be a dropout rate"):
        FeatureDropout([0.1, 1.0])
    with pytest.raises(ParameterError, match="one dropout rate per input feature, got none"):
        FeatureDropout([])
    with pytest.raises(ParameterError, match="holds 2 rates, one per input feature"):
        FeatureDropout([0.1, 0.2])(np.ones((3, 4), dtype="float32"))


def test_config_round_trips():
    layer = FeatureDropout(RATES, seed=2, name="drop_height")
    copy = FeatureDropout.from_config(layer.get_config())
    assert copy.rates == RATES and copy.seed == 2 and copy.name == "drop_height"
