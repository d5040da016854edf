"""Metrics of predictions against targets, in numpy only (no Keras backend), for every training loop.

`training.fit_full_batch` (Keras), `scratch.train` (the numpy net) and the reliance measures share
these, so Keras and numpy runs report exactly the same numbers.
"""

from __future__ import annotations

import numpy as np

PROBABILITY_CLIP = (
    1e-7  # Keras clips probabilities to [ε, 1 − ε] in binary cross-entropy, with ε = 1e-7
)


def binary_metrics(y_true: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Mean binary cross-entropy and accuracy of predicted probabilities (computed in float64).

    Probabilities are clipped to [1e-7, 1 − 1e-7] as Keras does, so a saturated output gives a finite loss."""
    y = np.asarray(y_true, dtype="float64").ravel()
    p = np.clip(np.asarray(prob, dtype="float64").ravel(), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return {"loss": float(loss), "accuracy": float(np.mean((p > 0.5) == (y > 0.5)))}


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean squared error (`loss`) and R² of predictions, for `training.fit_full_batch(metrics=...)`."""
    y = np.asarray(y_true, dtype="float64").ravel()
    err = np.mean(np.square(y - np.asarray(pred, dtype="float64").ravel()))
    return {"loss": float(err), "r2": float(1.0 - err / np.var(y))}


def categorical_metrics(y_true: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Mean cross-entropy and accuracy of class probabilities (one row per example, one column per
    class) against integer labels; probabilities clipped to [1e-7, 1] as Keras does."""
    y = np.asarray(y_true).ravel().astype(int)
    p = np.asarray(prob, dtype="float64")
    if p.ndim != 2 or len(p) != len(y) or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(
            f"expected probabilities of shape (examples, classes) and labels in [0, classes), "
            f"got shape {p.shape} and labels from {y.min()} to {y.max()}"
        )
    picked = np.clip(p[np.arange(len(y)), y], PROBABILITY_CLIP, 1.0)
    return {
        "loss": float(-np.mean(np.log(picked))),
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
    }
