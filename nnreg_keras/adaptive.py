"""Dropout on the inputs of a generalized linear model as an adaptive L2 penalty, in formulas.

Notation: `x` is (m, n), examples as rows; `w` the n weights (no bias: features are centred, see
`make_scaled_features`); dropout rate δ (Keras `rate`; the course's keep_prob q = 1 − δ). Inverted
dropout, as Keras does it, feeds x̃_ij = x_ij·ξ_ij/(1 − δ) with ξ_ij ~ Bernoulli(1 − δ), so E[x̃] = x.

A GLM's negative log-likelihood is A(x·w) − y·(x·w) (+ terms without w), with log-partition A:
A(z) = log(1 + e^z) for logistic regression (A'' = p(1 − p)), A(z) = z²/2 for linear regression
(A'' = 1). Since E[x̃·w] = x·w, the y term is unchanged by dropout and training with dropout adds

    R(w)   = Σ_i E[A(x̃_i·w)] − A(x_i·w)                                   (exact dropout penalty)
    R_q(w) = ½ · δ/(1 − δ) · Σ_j w_j² · Σ_i A''(x_i·w) · x_ij²               (second-order Taylor)

(Wager, Wang and Liang 2013, "Dropout training as adaptive regularization"), because
Var(x̃_i·w) = δ/(1 − δ) · Σ_j x_ij² w_j². Keras minimises a *mean* loss over the m examples, so
every function here returns the penalty divided by m: it is what dropout adds to Keras's loss, and
R_q/m = Σ_j λ_j w_j² is an L2 penalty with one strength per feature, in the units of
`keras.regularizers.L2(l2)` (which adds l2·Σ w²):

    λ_j = ½ · δ/(1 − δ) · (1/m) · Σ_i p_i(1 − p_i) · x_ij²          (`effective_l2`, logistic)

In the course's convention (lambd/(2m))·Σ w², the same strength is lambd_j = 2m·λ_j
= δ/(1 − δ) · Σ_i p_i(1 − p_i) · x_ij². It grows with the feature's scale (x_ij²) and with how
uncertain the model is (p(1 − p)) on the examples where the feature is large.

For linear regression A is quadratic and the expansion is exact (Srivastava et al. 2014, §9). With
q = 1 − δ, for inverted dropout:

    E ||y − X̃w||² = ||y − Xw||² + (1 − q)/q · Σ_j w_j² · (XᵀX)_jj

so dropout with a mean squared error is ridge regression with per-feature strength
δ/(1 − δ) · (XᵀX)_jj / m, solved by w = (XᵀX + δ/(1 − δ)·diag(XᵀX))⁻¹ Xᵀy (`dropout_ridge`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from nnreg_keras.data import Dataset
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.training import keras

GLMS = ("logistic", "linear")

# (name, unit, standard deviation in that unit, effect on the logit per standard deviation)
SCALED_FEATURES = (
    ("height", "m", 0.1, 1.0),
    ("weight", "kg", 12.0, 0.8),
    ("shoe_size", "EU size", 2.0, 0.4),
    ("sleep", "h", 1.0, 0.4),
    ("reaction_time", "s", 0.05, -0.8),
    ("commute", "min", 20.0, 0.0),
)


def check_rate(rate: Any, name: str = "rate") -> float:
    """The dropout rate δ as a float; ParameterError unless it is a number in [0, 1)."""
    ok = isinstance(rate, (int, float, np.floating)) and not isinstance(rate, bool) and 0 <= rate < 1
    if not ok:
        raise ParameterError(f"{name} must be a dropout rate δ in [0, 1) (the share of inputs "
                             f"dropped; δ = 1 drops everything), got {rate!r}")
    return float(rate)


def _inputs_and_weights(x: Any, w: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype="float64")
    w = np.asarray(w, dtype="float64").ravel()
    if x.ndim != 2 or x.shape[1] != w.size:
        raise ParameterError(f"x must have shape (examples, {w.size}) to match the {w.size} weights, "
                             f"got shape {x.shape}")
    return x, w


def _glm(glm: str) -> str:
    if glm not in GLMS:
        raise ParameterError(f"glm must be one of {', '.join(GLMS)}, got {glm!r}")
    return glm


def log_partition(z: np.ndarray, glm: str = "logistic") -> np.ndarray:
    """A(z): log(1 + e^z) for logistic regression, z²/2 for linear regression."""
    return np.logaddexp(0.0, z) if _glm(glm) == "logistic" else 0.5 * np.square(z)


def mean_response(z: np.ndarray, glm: str = "logistic") -> np.ndarray:
    """A'(z): p = sigmoid(z) for logistic regression, z for linear regression."""
    return 1.0 / (1.0 + np.exp(-z)) if _glm(glm) == "logistic" else np.asarray(z, dtype="float64")


def curvature(z: np.ndarray, glm: str = "logistic") -> np.ndarray:
    """A''(z): p(1 − p) with p = sigmoid(z) for logistic regression, 1 for linear regression."""
    if _glm(glm) == "linear":
        return np.ones_like(z)
    p = 1.0 / (1.0 + np.exp(-z))
    return p * (1.0 - p)


def inverted_dropout(x: Any, rate: float, n_masks: int, seed: int = 0) -> np.ndarray:
    """`n_masks` noisy copies of x as inverted dropout makes them: (n_masks, m, n), x·ξ/(1 − δ)."""
    rate = check_rate(rate)
    x = np.asarray(x, dtype="float64")
    kept = np.random.default_rng(seed).random((n_masks,) + x.shape) >= rate
    return x * kept / (1.0 - rate)


def mc_dropout_penalty(x: Any, x_noisy: Any, w: Any, glm: str = "logistic") -> tuple[float, float]:
    """Monte Carlo estimate of R(w)/m = mean_i (E[A(x̃_i·w)] − A(x_i·w)) and its standard error.

    `x_noisy` holds K dropout copies of x, shape (K, m, n). Each copy's penalty also subtracts the
    first-order term A'(x_i·w)·(x̃_i − x_i)·w, whose expectation is exactly 0 (E[x̃] = x): the same
    mean, with a much smaller spread. The error is the spread of the K per-copy penalties over √K."""
    x, w = _inputs_and_weights(x, w)
    x_noisy = np.asarray(x_noisy, dtype="float64")
    if x_noisy.ndim != 3 or x_noisy.shape[1:] != x.shape:
        raise ParameterError(f"x_noisy must have shape (copies, {x.shape[0]}, {x.shape[1]}), "
                             f"got {x_noisy.shape}")
    z, z_noisy = x @ w, x_noisy @ w
    per_example = log_partition(z_noisy, glm) - log_partition(z, glm) - mean_response(z, glm) * (z_noisy - z)
    per_copy = per_example.mean(axis=1)
    return float(per_copy.mean()), float(per_copy.std(ddof=1) / np.sqrt(len(per_copy)))


def effective_l2(x: Any, w: Any, rate: float, glm: str = "logistic") -> np.ndarray:
    """Per-feature L2 strengths λ_j = ½·δ/(1−δ)·(1/m)·Σ_i A''(x_i·w)·x_ij², in Keras L2 units.

    A''(x_i·w) is evaluated at the given weights w: the strengths follow the model's current
    predictions. For logistic regression A'' = p(1 − p)."""
    rate = check_rate(rate)
    x, w = _inputs_and_weights(x, w)
    weights = curvature(x @ w, glm)
    return 0.5 * rate / (1.0 - rate) * (weights @ np.square(x)) / len(x)


def quadratic_penalty(x: Any, w: Any, rate: float, glm: str = "logistic") -> float:
    """R_q(w)/m = Σ_j λ_j·w_j² (λ_j from `effective_l2`): the quadratic approximation of what
    dropout adds to a mean loss; exact for linear regression (with the GLM loss ½(y − x·w)²)."""
    return float(effective_l2(x, w, rate, glm) @ np.square(np.ravel(w)))


def matched_l2(x: Any, w: Any, rate: float) -> float:
    """The single L2 strength λ whose penalty at w equals the adaptive one: λ·Σw² = Σ_j λ_j·w_j².

    A weighted mean of the λ_j, weighted by w_j²: plain L2 of the same total strength at w."""
    w = np.ravel(w)
    total = float(np.sum(np.square(w)))
    if total == 0:
        raise ParameterError("w must not be all zeros: the matched strength is a mean weighted by w_j²")
    return quadratic_penalty(x, w, rate) / total


def dropout_ridge_l2(x: Any, rate: float) -> np.ndarray:
    """Per-feature ridge strengths δ/(1−δ)·(XᵀX)_jj/m that input dropout adds to a mean squared
    error (Keras's "mse", no ½): exact, for inverted dropout, whatever the weights."""
    rate = check_rate(rate)
    x = np.asarray(x, dtype="float64")
    return rate / (1.0 - rate) * np.square(x).mean(axis=0)


def dropout_ridge(x: Any, y: Any, rate: float) -> np.ndarray:
    """The weights linear regression with input dropout converges to, in closed form:
    w = (XᵀX + δ/(1−δ)·diag(XᵀX))⁻¹ Xᵀy, the minimiser of E||y − X̃w||² (no bias; centred data)."""
    rate = check_rate(rate)
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64").ravel()
    if x.ndim != 2 or len(y) != len(x):
        raise ParameterError(f"x must be (examples, features) with one y per row, got x {x.shape}, y {y.shape}")
    gram = x.T @ x
    return np.linalg.solve(gram + rate / (1.0 - rate) * np.diag(np.diag(gram)), x.T @ y)


@keras.saving.register_keras_serializable(package="nnreg_keras")
class AdaptiveL2(keras.regularizers.Regularizer):
    """The quadratic dropout penalty R_q/m of a sigmoid unit without bias, as a kernel regularizer.

    For `Dense(1, activation="sigmoid", use_bias=False)` trained with binary cross-entropy (a mean
    over the batch) on the full training inputs `x`, it adds ½·δ/(1−δ)·mean_i p_i(1−p_i)·Σ_j x_ij²·w_j²
    with p_i = sigmoid(x_i·w) recomputed from the current kernel, so its gradient also flows through
    p: it replaces `Dropout(rate)` on the inputs, to second order.
    """

    def __init__(self, rate: float, x: Any):
        self.rate = check_rate(rate)
        self.x = np.asarray(x, dtype="float32")
        if self.x.ndim != 2:
            raise ParameterError(f"x must be the training inputs, shape (examples, features), got {self.x.shape}")

    def __call__(self, kernel):
        if tuple(kernel.shape) not in ((self.x.shape[1], 1), (self.x.shape[1],)):
            raise ParameterError(f"AdaptiveL2 holds inputs with {self.x.shape[1]} features, but the kernel "
                                 f"has shape {tuple(kernel.shape)}; expected ({self.x.shape[1]}, 1)")
        ops = keras.ops
        x = ops.convert_to_tensor(self.x, dtype=kernel.dtype)
        w = ops.reshape(kernel, (-1,))
        p = ops.sigmoid(ops.matmul(x, w))
        spread = ops.matmul(ops.square(x), ops.square(w))  # Σ_j x_ij² w_j², per example
        return 0.5 * self.rate / (1.0 - self.rate) * ops.mean(p * (1.0 - p) * spread)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "x": self.x.tolist()}


def _scaled_inputs(m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centred features in their units (sd from SCALED_FEATURES) and the linear score per example."""
    z = rng.standard_normal((m, len(SCALED_FEATURES)))
    sd = np.array([f[2] for f in SCALED_FEATURES])
    effect = np.array([f[3] for f in SCALED_FEATURES])
    return z * sd, z @ effect


def _check_sizes(**sizes: Any) -> None:
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"{name} must be a positive integer, got {n!r}")


def make_scaled_features(n_train: int = 1000, n_test: int = 2000, seed: int = 0) -> Dataset:
    """Six centred features in natural units whose scales differ by a factor 400 (`SCALED_FEATURES`).

    Each value is a deviation from the population mean (height in m, weight in kg, ...); the label is
    drawn from a logistic model without intercept, P(y = 1) = sigmoid(Σ_j effect_j·x_j/sd_j), so
    logistic regression without bias is the right model and each feature's true weight is effect/sd.
    """
    _check_sizes(n_train=n_train, n_test=n_test)
    rng = np.random.default_rng(seed)

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        x, score = _scaled_inputs(m, rng)
        y = rng.random(m) < 1.0 / (1.0 + np.exp(-score))
        return x.astype("float32"), y.astype("float32")

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Dataset("scaled_features", x_train, y_train, x_test, y_test, tuple(f[0] for f in SCALED_FEATURES),
                   {"units": tuple(f[1] for f in SCALED_FEATURES), "seed": seed,
                    "true_weights": tuple(f[3] / f[2] for f in SCALED_FEATURES)})


def make_scaled_regression(n_train: int = 1000, n_test: int = 2000, noise: float = 1.0,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The features of `make_scaled_features` with a real-valued target Σ_j effect_j·x_j/sd_j + noise:
    (x_train, y_train, x_test, y_test) as float32 arrays (not a `Dataset`, whose labels are 0/1)."""
    _check_sizes(n_train=n_train, n_test=n_test)
    if not (isinstance(noise, (int, float)) and not isinstance(noise, bool) and noise >= 0):
        raise ParameterError(f"noise must be a number >= 0 (the sd of the target's noise), got {noise!r}")
    rng = np.random.default_rng(seed)
    parts = []
    for m in (n_train, n_test):
        x, score = _scaled_inputs(m, rng)
        parts += [x.astype("float32"), (score + noise * rng.standard_normal(m)).astype("float32")]
    return tuple(parts)


def rescale_feature(data: Dataset, feature: str, factor: float, unit: str) -> Dataset:
    """The same dataset with one feature expressed in another unit: its values times `factor`
    (100 from metres to centimetres); labels, examples and every other feature unchanged."""
    if feature not in data.feature_names:
        raise ParameterError(f"feature {feature!r} is not in the dataset; features: {', '.join(data.feature_names)}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ParameterError(f"factor must be a number > 0 (new units per old unit), got {factor!r}")
    j = data.feature_names.index(feature)
    scale = np.ones(data.n_features, dtype="float32")
    scale[j] = factor
    units = list(data.info.get("units", ("",) * data.n_features))
    units[j] = unit
    return replace(data, x_train=data.x_train * scale, x_test=data.x_test * scale,
                   info={**data.info, "units": tuple(units), "rescaled": {feature: factor}})


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean squared error (`loss`) and R² of predictions, for `training.fit_full_batch(metrics=...)`."""
    y = np.asarray(y_true, dtype="float64").ravel()
    err = np.mean(np.square(y - np.asarray(pred, dtype="float64").ravel()))
    return {"loss": float(err), "r2": float(1.0 - err / np.var(y))}


def per_sd(w: Any, x: Any) -> np.ndarray:
    """Weights per standard deviation of their feature, w_j·sd(x_j): comparable across units."""
    return np.ravel(w) * np.asarray(x, dtype="float64").std(axis=0)
