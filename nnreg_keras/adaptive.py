"""Dropout on the inputs of a generalized linear model as an adaptive L2 penalty, in formulas.

Notation: `x` is (m, n), examples as rows; `w` the n weights (no bias: features are centred, see
`data.make_scaled_features`); dropout rate δ (Keras `rate`; the course's keep_prob q = 1 − δ). Inverted
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

The Keras form of R_q/m is `models.AdaptiveL2`; the data with features in different units are
`data.make_scaled_features` and `data.make_scaled_regression`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.rules import check_rate

GLMS = ("logistic", "linear")


def _inputs_and_weights(x: Any, w: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype="float64")
    w = np.asarray(w, dtype="float64").ravel()
    if x.ndim != 2 or x.shape[1] != w.size:
        raise ParameterError(
            f"x must have shape (examples, {w.size}) to match the {w.size} weights, "
            f"got shape {x.shape}"
        )
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


def mc_dropout_penalty(x: Any, x_noisy: Any, w: Any, glm: str = "logistic") -> tuple[float, float]:
    """Monte Carlo estimate of R(w)/m = mean_i (E[A(x̃_i·w)] − A(x_i·w)) and its standard error.

    `x_noisy` holds K dropout copies of x, shape (K, m, n). Each copy's penalty also subtracts the
    first-order term A'(x_i·w)·(x̃_i − x_i)·w, whose expectation is exactly 0 (E[x̃] = x): the same
    mean, with a much smaller spread. The error is the spread of the K per-copy penalties over √K."""
    x, w = _inputs_and_weights(x, w)
    x_noisy = np.asarray(x_noisy, dtype="float64")
    if x_noisy.ndim != 3 or x_noisy.shape[1:] != x.shape:
        raise ParameterError(
            f"x_noisy must have shape (copies, {x.shape[0]}, {x.shape[1]}), got {x_noisy.shape}"
        )
    z, z_noisy = x @ w, x_noisy @ w
    per_example = (
        log_partition(z_noisy, glm) - log_partition(z, glm) - mean_response(z, glm) * (z_noisy - z)
    )
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
        raise ParameterError(
            "w must not be all zeros: the matched strength is a mean weighted by w_j²"
        )
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
        raise ParameterError(
            f"x must be (examples, features) with one y per row, got x {x.shape}, y {y.shape}"
        )
    gram = x.T @ x
    return np.linalg.solve(gram + rate / (1.0 - rate) * np.diag(np.diag(gram)), x.T @ y)


def per_sd(w: Any, x: Any) -> np.ndarray:
    """Weights per standard deviation of their feature, w_j·sd(x_j): comparable across units."""
    return np.ravel(w) * np.asarray(x, dtype="float64").std(axis=0)
