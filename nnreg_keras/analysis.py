"""Measurements on trained models and on runs: plain arrays in, plain numbers out."""
from __future__ import annotations

import numpy as np

from nnreg_keras.formatting import mean_sd, mean_sd_text  # noqa: F401  (re-exported for notebooks)
from nnreg_keras.training import keras, predict


def average_records(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Average records of several runs step by step (the runs must share their steps)."""
    if len({tuple(r["step"] for r in run) for run in runs}) != 1:
        raise ValueError("runs recorded different steps and cannot be averaged")
    return [{key: float(np.mean([run[i][key] for run in runs])) for key in runs[0][i]}
            for i in range(len(runs[0]))]


def weights_snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of all the model's trainable weights, to compare before and after training."""
    return [np.array(w) for w in model.get_weights()]


def changed_parameters(before: list[np.ndarray], after: list[np.ndarray]) -> int:
    """How many scalar parameters differ between two snapshots (exactly, not to a tolerance)."""
    if [b.shape for b in before] != [a.shape for a in after]:
        raise ValueError("the two snapshots come from different architectures")
    return int(sum(np.count_nonzero(b != a) for b, a in zip(before, after, strict=True)))


def distinct_rows(masks: np.ndarray) -> int:
    """Number of distinct rows of a 0/1 array: distinct dropout masks = distinct sub-networks."""
    packed = np.packbits(np.asarray(masks, dtype=bool), axis=1)
    return int(np.unique(packed, axis=0).shape[0])


def mc_dropout_curve(model: keras.Model, x: np.ndarray, y: np.ndarray, ks: list[int]) -> dict[str, list[float]]:
    """Accuracy of the average of k training-mode passes, for each k, next to the single
    inference-mode pass; also the mean absolute gap between the two predicted probabilities."""
    deterministic = predict(model, x).ravel()
    passes = np.stack([predict(model, x, training=True).ravel() for _ in range(max(ks))])
    running = np.cumsum(passes, axis=0) / np.arange(1, len(passes) + 1)[:, None]
    y = np.asarray(y).ravel() > 0.5
    return {
        "k": list(ks),
        "mc_accuracy": [float(np.mean((running[k - 1] > 0.5) == y)) for k in ks],
        "mc_gap": [float(np.mean(np.abs(running[k - 1] - deterministic))) for k in ks],
        "deterministic_accuracy": float(np.mean((deterministic > 0.5) == y)),
    }


def grid(x: np.ndarray, steps: int = 120, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over the range of 2-D inputs: (xx, yy, points of shape (steps², 2))."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype("float32")
