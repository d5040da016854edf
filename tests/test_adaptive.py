"""Dropout as adaptive L2: the formulas of `nnreg_keras.adaptive` (and `models.AdaptiveL2`) against
Monte Carlo and direct solves."""

import numpy as np
import pytest
import tensorflow as tf

from nnreg_keras import adaptive as ad
from nnreg_keras.data import make_scaled_regression
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.metrics import regression_metrics
from nnreg_keras.models import AdaptiveL2
from nnreg_keras.training import fit_full_batch, keras, set_seed


def random_problem(m=400, n=5, seed=0, weight_scale=0.3):
    """Inputs on different scales and weights whose per-feature contributions x_j·w_j are small."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(0.05, 20, n)
    x = rng.standard_normal((m, n)) * scales
    w = weight_scale * rng.standard_normal(n) / scales
    return x, w


def inverted_dropout(x, rate, n_masks, seed=0):
    """`n_masks` noisy copies of x as inverted dropout makes them: (n_masks, m, n), x·ξ/(1 − δ)."""
    kept = np.random.default_rng(seed).random((n_masks,) + x.shape) >= rate
    return x * kept / (1.0 - rate)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_quadratic_approximation_is_close_to_monte_carlo_when_contributions_are_small(rate):
    # Thirty features each contributing a little: the dropout noise on x·w is close to Gaussian and
    # small, where the second-order expansion is accurate.
    x, w = random_problem(m=200, n=30, weight_scale=0.1)
    mc, se = ad.mc_dropout_penalty(x, inverted_dropout(x, rate, 400, seed=1), w)
    rq = ad.quadratic_penalty(x, w, rate)
    assert se < 0.01 * mc
    assert rq == pytest.approx(mc, rel=0.04)


def test_quadratic_approximation_errs_when_one_feature_carries_the_score():
    # One dominant feature: dropping it is a large jump, not a small perturbation, and R_q misses
    # the third-order term (it underestimates the penalty at small rates).
    x, w = random_problem(n=3, weight_scale=0.3)
    w[0] *= 10
    mc, se = ad.mc_dropout_penalty(x, inverted_dropout(x, 0.1, 400, seed=2), w)
    assert ad.quadratic_penalty(x, w, 0.1) < mc - 10 * se


def test_keras_dropout_copies_give_the_same_penalty_as_the_numpy_ones():
    x, w = random_problem()
    k = 300
    noisy = keras.layers.Dropout(0.4, seed=3)(np.tile(x, (k, 1)).astype("float32"), training=True)
    keras_mc, keras_se = ad.mc_dropout_penalty(x, np.asarray(noisy).reshape(k, *x.shape), w)
    numpy_mc, numpy_se = ad.mc_dropout_penalty(x, inverted_dropout(x, 0.4, k, seed=3), w)
    assert abs(keras_mc - numpy_mc) < 4 * np.hypot(keras_se, numpy_se)


def test_effective_l2_is_the_documented_formula_and_sums_to_the_quadratic_penalty():
    x, w = random_problem()
    rate = 0.3
    p = 1 / (1 + np.exp(-x @ w))
    by_hand = [
        0.5 * rate / (1 - rate) * np.mean(p * (1 - p) * x[:, j] ** 2) for j in range(x.shape[1])
    ]
    lam = ad.effective_l2(x, w, rate)
    np.testing.assert_allclose(lam, by_hand, rtol=1e-12)
    assert ad.quadratic_penalty(x, w, rate) == pytest.approx(np.sum(lam * w**2), rel=1e-12)
    # the course's lambd_j = 2m·λ_j = δ/(1−δ)·Σ_i p_i(1−p_i)x_ij²
    np.testing.assert_allclose(
        2 * len(x) * lam, rate / (1 - rate) * (p * (1 - p)) @ x**2, rtol=1e-12
    )
    assert ad.matched_l2(x, w, rate) * np.sum(w**2) == pytest.approx(
        ad.quadratic_penalty(x, w, rate)
    )
    at_zero = ad.effective_l2(x, np.zeros_like(w), rate)  # p = 1/2 everywhere: p(1-p) = 1/4
    np.testing.assert_allclose(at_zero, 0.5 * rate / (1 - rate) * 0.25 * np.mean(x**2, axis=0))


def test_the_adaptive_penalty_does_not_change_with_the_units_of_a_feature():
    x, w = random_problem()
    lam = ad.effective_l2(x, w, 0.5)
    factor = np.array([100.0, 1, 1, 1, 1])  # the first feature in centimetres instead of metres
    lam_cm = ad.effective_l2(x * factor, w / factor, 0.5)
    np.testing.assert_allclose(lam_cm * (w / factor) ** 2, lam * w**2, rtol=1e-10)
    assert lam_cm[0] == pytest.approx(1e4 * lam[0])


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_linear_dropout_loss_matches_its_exact_expectation(rate):
    # E||y − X̃w||² = ||y − Xw||² + (1−q)/q · Σ_j w_j² (XᵀX)_jj, for inverted dropout with q = 1 − rate
    x, w = random_problem(m=200)
    y = x @ w + np.random.default_rng(4).standard_normal(len(x))
    noisy = inverted_dropout(x, rate, 4000, seed=5)
    per_copy = np.sum((y - noisy @ w) ** 2, axis=1)
    q = 1 - rate
    exact = np.sum((y - x @ w) ** 2) + (1 - q) / q * np.sum(w**2 * np.diag(x.T @ x))
    assert per_copy.mean() == pytest.approx(exact, abs=4 * per_copy.std() / np.sqrt(len(per_copy)))
    assert exact / len(x) == pytest.approx(
        np.mean((y - x @ w) ** 2) + ad.dropout_ridge_l2(x, rate) @ w**2
    )
    # in GLM form (loss ½(y − x·w)²) the quadratic penalty is exact: half of the mse's
    assert ad.quadratic_penalty(x, w, rate, glm="linear") == pytest.approx(
        0.5 * ad.dropout_ridge_l2(x, rate) @ w**2
    )


def test_dropout_ridge_solves_the_per_feature_ridge_problem_and_the_sampled_dropout_problem():
    x, w = random_problem(m=300)
    y = x @ w + np.random.default_rng(6).standard_normal(len(x))
    rate = 0.4
    closed = ad.dropout_ridge(x, y, rate)
    # direct solve: least squares on x stacked over sqrt(m·λ_j) rows, the textbook ridge augmentation
    augmented = np.vstack([x, np.diag(np.sqrt(len(x) * ad.dropout_ridge_l2(x, rate)))])
    direct = np.linalg.lstsq(augmented, np.r_[y, np.zeros(x.shape[1])], rcond=None)[0]
    np.testing.assert_allclose(closed, direct, rtol=1e-9)
    # least squares over many dropout copies approaches the same weights (per sd of each feature)
    k = 2000
    noisy = inverted_dropout(x, rate, k, seed=7).reshape(-1, x.shape[1])
    sampled = np.linalg.lstsq(noisy, np.tile(y, k), rcond=None)[0]
    np.testing.assert_allclose(ad.per_sd(sampled, x), ad.per_sd(closed, x), atol=0.01)
    ols = np.linalg.lstsq(x, y, rcond=None)[0]
    assert np.linalg.norm(ad.per_sd(ols - closed, x)) > 10 * np.linalg.norm(
        ad.per_sd(sampled - closed, x)
    )


def test_keras_linear_regression_with_input_dropout_converges_to_the_closed_form():
    x, y, _, _ = make_scaled_regression(n_train=500, n_test=10, seed=1)
    rate = 0.5
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dropout(rate),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.05, 800)),
        loss="mse",
    )
    records = fit_full_batch(model, x, y, 800, 400, metrics=regression_metrics)
    trained = ad.per_sd(model.get_weights()[0], x)
    closed = ad.per_sd(ad.dropout_ridge(x, y, rate), x)
    assert np.linalg.norm(trained - closed) < 0.05 * np.linalg.norm(closed)
    assert set(records[-1]) == {"step", "fit_loss", "train_loss", "train_r2"}


def adaptive_value_and_gradient(x, w, rate):
    reg = AdaptiveL2(rate, x)
    kernel = tf.Variable(w.reshape(-1, 1).astype("float64"))
    with tf.GradientTape() as tape:
        value = reg(kernel)
    return float(value), tape.gradient(value, kernel).numpy().ravel()


def test_adaptive_regularizer_value_and_gradient_match_the_numpy_formula():
    x, w = random_problem()
    rate = 0.35
    value, grad = adaptive_value_and_gradient(x, w, rate)
    assert value == pytest.approx(ad.quadratic_penalty(x.astype("float32"), w, rate), rel=1e-5)
    xf = x.astype("float32").astype("float64")  # the regularizer holds float32 inputs
    h = 1e-6 / np.abs(x).std(axis=0)  # a step matched to each weight's scale
    numeric = [
        (
            ad.quadratic_penalty(xf, w + h[j] * np.eye(len(w))[j], rate)
            - ad.quadratic_penalty(xf, w - h[j] * np.eye(len(w))[j], rate)
        )
        / (2 * h[j])
        for j in range(len(w))
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-12)
    # the gradient also flows through p: it is not the frozen-curvature gradient 2·λ_j·w_j
    assert not np.allclose(grad, 2 * ad.effective_l2(xf, w, rate) * w, rtol=1e-3)


def test_adaptive_regularizer_serializes_and_adds_its_penalty_to_a_model():
    x, w = random_problem(m=50)
    reg = AdaptiveL2(0.25, x)
    again = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert isinstance(again, AdaptiveL2) and again.rate == 0.25
    np.testing.assert_array_equal(again.x, reg.x)
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(1, activation="sigmoid", use_bias=False, kernel_regularizer=again),
        ]
    )
    model.layers[0].kernel.assign(w.reshape(-1, 1))
    penalty = float(sum(model.losses))
    assert penalty == pytest.approx(ad.quadratic_penalty(reg.x, w, 0.25), rel=1e-5)
    restored = keras.models.model_from_json(model.to_json())
    assert isinstance(restored.layers[0].kernel_regularizer, AdaptiveL2)


def test_adaptive_regularizer_rejects_a_kernel_of_another_size():
    reg = AdaptiveL2(0.5, np.ones((10, 3)))
    with pytest.raises(ParameterError, match=r"3 features, but the kernel has shape \(4, 1\)"):
        reg(keras.ops.ones((4, 1)))


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.1, "0.5", True, None, float("nan")])
def test_bad_dropout_rates_are_rejected_with_the_value_and_the_accepted_range(bad):
    x, w = random_problem(m=20)
    calls = [
        lambda: ad.effective_l2(x, w, bad),
        lambda: ad.quadratic_penalty(x, w, bad),
        lambda: ad.dropout_ridge(x, x @ w, bad),
        lambda: ad.dropout_ridge_l2(x, bad),
        lambda: AdaptiveL2(bad, x),
    ]
    for call in calls:
        with pytest.raises(ParameterError, match=r"rate must be a dropout rate in \[0, 1\)") as err:
            call()
        assert repr(bad) in str(err.value)


def test_other_bad_arguments_name_the_argument():
    x, w = random_problem(m=20)
    with pytest.raises(ParameterError, match=r"x must have shape \(examples, 4\)"):
        ad.effective_l2(x, w[:4], 0.5)
    with pytest.raises(ParameterError, match="glm must be one of logistic, linear, got 'poisson'"):
        ad.quadratic_penalty(x, w, 0.5, glm="poisson")
    with pytest.raises(ParameterError, match=r"x_noisy must have shape \(copies, 20, 5\)"):
        ad.mc_dropout_penalty(x, x, w)
    with pytest.raises(ParameterError, match="w must not be all zeros"):
        ad.matched_l2(x, np.zeros_like(w), 0.5)
