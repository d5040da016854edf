"""How much a trained model relies on each input feature: plain arrays in, plain numpy values out.

Two views that can disagree. *Reliance* asks the model: how much accuracy (or loss) is lost when a
feature is made unavailable at test time, i.e. replaced by its training mean (or, for permutation
importance, shuffled across examples). *Weight norm* reads the first layer: how large the weights
leaving each input are. A model can keep large weights on a feature it hardly needs, and the reverse.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.metrics import binary_metrics
from nnreg_keras.stats import HELD, NOT_HELD, Comparison
from nnreg_keras.training import keras, predict

PredictFn = Callable[[np.ndarray], np.ndarray]
Model = keras.Model | PredictFn
METRICS = ("accuracy", "loss")


def as_predict(model: Model) -> PredictFn:
    """A function x -> predicted probabilities of shape (m,): a Keras model in inference mode, or `model` itself."""
    if isinstance(model, keras.Model):
        return lambda x: predict(model, x).ravel()
    if callable(model):
        return lambda x: np.asarray(model(x), dtype="float64").ravel()
    raise ParameterError(
        f"model must be a Keras model or a function x -> probabilities, got {type(model).__name__}"
    )


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _lost(before: dict[str, float], after: dict[str, float], metric: str) -> float:
    """What was lost from `before` to `after`: accuracy down, or loss up; positive means worse."""
    if metric == "accuracy":
        return before["accuracy"] - after["accuracy"]
    return after["loss"] - before["loss"]


def with_feature_missing(x: np.ndarray, feature: int, fill: np.ndarray) -> np.ndarray:
    """A copy of `x` where column `feature` holds `fill[feature]` (the training mean) for every example."""
    out = np.array(x, dtype="float32", copy=True)
    out[:, feature] = fill[feature]
    return out


def _lost_per_copy(
    run: PredictFn, x: np.ndarray, y: np.ndarray, copies: np.ndarray, metric: str
) -> np.ndarray:
    """The `metric` lost on each of `copies` (k, m, n) of `x`, predicted in one call for speed."""
    clean = binary_metrics(y, run(x))
    probs = run(copies.reshape(-1, x.shape[1])).reshape(len(copies), -1)
    return np.array([_lost(clean, binary_metrics(y, p), metric) for p in probs])


def reliance(
    model: Model, x: np.ndarray, y: np.ndarray, fill: np.ndarray, metric: str = "accuracy"
) -> np.ndarray:
    """Per feature, the `metric` lost when that feature is replaced by `fill` (its training mean)."""
    _check_metric(metric)
    copies = np.stack([with_feature_missing(x, j, fill) for j in range(x.shape[1])])
    return _lost_per_copy(as_predict(model), x, y, copies, metric)


def permutation_importance(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    repeats: int = 5,
    seed: int = 0,
    metric: str = "accuracy",
) -> np.ndarray:
    """Per feature, the mean `metric` lost over `repeats` random shuffles of that column (seeded rng)."""
    _check_metric(metric)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ParameterError(f"repeats must be a positive integer, got {repeats!r}")
    rng = np.random.default_rng(seed)
    copies = np.repeat(np.asarray(x, dtype="float32")[None], x.shape[1] * repeats, axis=0)
    for k, copy in enumerate(copies):
        copy[:, k // repeats] = rng.permutation(copy[:, k // repeats])
    return (
        _lost_per_copy(as_predict(model), x, y, copies, metric)
        .reshape(x.shape[1], repeats)
        .mean(axis=1)
    )


def first_layer_weight_norms(model: keras.Model) -> np.ndarray:
    """Per input feature, the L2 norm of the weights leaving it in the first layer that has a kernel."""
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            return np.linalg.norm(layer.kernel.numpy(), axis=1)
    raise ParameterError(f"model {model.name!r} has no layer with a kernel (no Dense layer)")


def shares(values: np.ndarray) -> np.ndarray:
    """Non-negative values scaled to sum to 1 along the last axis; negative values (noise) count as 0.

    A row that is all zeros (a model that relies on nothing) stays all zeros."""
    v = np.clip(np.asarray(values, dtype="float64"), 0, None)
    total = v.sum(axis=-1, keepdims=True)
    return np.divide(v, total, out=np.zeros_like(v), where=total > 0)


def feature_report(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    fill: np.ndarray,
    metric: str = "loss",
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, np.ndarray | float]:
    """Every measure of this module for one model on one test set, as plain numpy values.

    `accuracy` (clean); per feature: `accuracy_missing` (replaced by `fill`), `accuracy_shuffled`
    (permuted), and the shares of `reliance` and `permutation` (`metric` lost) and, for a Keras
    model, of `weight_norm`."""
    clean = binary_metrics(y, as_predict(model)(x))["accuracy"]
    report: dict[str, np.ndarray | float] = {
        "accuracy": clean,
        "accuracy_missing": clean - reliance(model, x, y, fill, "accuracy"),
        "accuracy_shuffled": clean
        - permutation_importance(model, x, y, repeats=repeats, seed=seed, metric="accuracy"),
        "reliance": shares(reliance(model, x, y, fill, metric)),
        "permutation": shares(
            permutation_importance(model, x, y, repeats=repeats, seed=seed, metric=metric)
        ),
    }
    if isinstance(model, keras.Model):
        report["weight_norm"] = shares(first_layer_weight_norms(model))
    return report


def per_seed(
    reports: list[dict[str, np.ndarray | float]], key: str, feature: int | None = None
) -> np.ndarray:
    """One measure of one model across its seeds (a list of `feature_report`s): shape (seeds,) for a
    scalar measure or one `feature`, else (seeds, features)."""
    values = np.array([report[key] for report in reports], dtype="float64")
    return values if feature is None else values[:, feature]


def matched_setting(scores: np.ndarray, target: float, tolerance: float) -> tuple[int, bool]:
    """Which setting of a sweep scores closest to `target` (one mean validation accuracy per
    setting), and whether it lies within `tolerance` of it: a match named before any result."""
    scores = np.asarray(scores, dtype="float64")
    if scores.ndim != 1 or not len(scores):
        raise ParameterError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ParameterError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    index = int(np.argmin(np.abs(scores - target)))
    return index, bool(abs(scores[index] - target) <= tolerance)


def change_words(comparison: Comparison) -> str:
    """Which way a paired difference went, in words its interval supports: "fell" or "rose" when
    the 95% interval excludes zero, else "did not change measurably"."""
    if comparison.interval is None:
        return "was measured on one seed only"
    return {"lower": "fell", "higher": "rose"}.get(
        comparison.direction, "did not change measurably"
    )


def answer(*comparisons: Comparison) -> str:
    """The first word of a yes/no answer resting on several expected effects: "Yes" when all held,
    "Partly" when some held, "No" when none held and one went the other way, else "Not shown"."""
    statuses = {c.status for c in comparisons}
    if statuses == {HELD}:
        return "Yes"
    if HELD in statuses:
        return "Partly"
    return "No" if NOT_HELD in statuses else "Not shown"
