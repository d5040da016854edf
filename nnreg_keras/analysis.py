"""Measurements on trained models and on runs: plain arrays in, plain numbers out."""

from __future__ import annotations

import numpy as np

from nnreg_keras.formatting import mean_sd, mean_sd_text  # noqa: F401  (re-exported for notebooks)
from nnreg_keras.training import keras


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


def weights_snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of all the model's trainable weights, to compare before and after training."""
    return [np.array(w) for w in model.get_weights()]


def changed_parameters(before: list[np.ndarray], after: list[np.ndarray]) -> int:
    """How many scalar parameters differ between two snapshots (exactly, not to a tolerance)."""
    if [b.shape for b in before] != [a.shape for a in after]:
        raise ValueError("the two snapshots come from different architectures")
    return int(sum(np.count_nonzero(b != a) for b, a in zip(before, after, strict=True)))


def grid(
    x: np.ndarray, steps: int = 120, margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over the range of 2-D inputs: (xx, yy, points of shape (steps², 2))."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype("float32")
