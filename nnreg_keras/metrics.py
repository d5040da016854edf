"""Measurements in numpy only (no Keras backend): metrics of predictions against targets, shared by
every training loop, and comparisons of weights and of training runs.

`training.fit_full_batch` (Keras), `scratch.train` (the numpy net) and the reliance measures share
the metrics, so Keras and numpy runs report exactly the same numbers.
"""

from __future__ import annotations

from typing import Any

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


def average_records(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Average records of several runs step by step (the runs must share their steps)."""
    if len({tuple(r["step"] for r in run) for run in runs}) != 1:
        raise ValueError("runs recorded different steps and cannot be averaged")
    return [
        {key: float(np.mean([run[i][key] for run in runs])) for key in runs[0][i]}
        for i in range(len(runs[0]))
    ]


def relative_gaps(
    run: list[dict[str, float]], other: list[dict[str, float]], key: str = "train_loss"
) -> np.ndarray:
    """|run − other| / |run| of `key` at each record of two runs of the same training."""
    if [r["step"] for r in run] != [r["step"] for r in other]:
        raise ValueError("the two runs recorded different steps")
    a, b = (np.array([r[key] for r in records], dtype="float64") for records in (run, other))
    return np.abs(a - b) / np.abs(a)


def agreement_steps(
    run: list[dict[str, float]],
    other: list[dict[str, float]],
    key: str = "train_loss",
    rtol: float = 1e-3,
) -> int:
    """How long two runs of the same training agree: the last recorded step before `key` first
    differs by more than `rtol` (relative to `run`), 0 if at the first record, the final step if never."""
    apart = np.flatnonzero(relative_gaps(run, other, key) > rtol)
    if not apart.size:
        return int(run[-1]["step"])
    return int(run[apart[0] - 1]["step"]) if apart[0] else 0


def weights_snapshot(model: Any) -> list[np.ndarray]:
    """Copies of all the model's trainable weights, to compare before and after training."""
    return [np.array(w) for w in model.get_weights()]


def changed_parameters(before: list[np.ndarray], after: list[np.ndarray]) -> int:
    """How many scalar parameters differ between two snapshots (exactly, not to a tolerance)."""
    if [b.shape for b in before] != [a.shape for a in after]:
        raise ValueError("the two snapshots come from different architectures")
    return int(sum(np.count_nonzero(b != a) for b, a in zip(before, after, strict=True)))
