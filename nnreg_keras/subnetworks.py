"""Dropout's thinned sub-networks against one smaller network (tutorial 01): the width sweep and its
validated choice, parameter counts before and after training, and Monte Carlo averaging of dropout
passes against the single inference pass (the weight-scaling rule)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnreg_keras import metrics
from nnreg_keras.data import Split, goalkeeper_boundary
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.formatting import mean_sd
from nnreg_keras.training import fit_full_batch, keras, predict


def sweep_widths(widths: list[int], width: int, rate: float) -> tuple[list[int], int]:
    """The widths of unregularized networks to train: the sweep plus the wide network and the
    (1 − rate) × width network, sorted; and that (1 − rate) × width."""
    if not (
        isinstance(widths, list)
        and widths
        and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    ):
        raise ParameterError(
            f"parameter 'widths' = {widths!r}: accepted a non-empty list of positive integers"
        )
    kept = max(1, round((1 - rate) * width))
    return sorted({*widths, width, kept}), kept


def fit_and_count(
    model: keras.Model, data: dict[str, Split], steps: int, record_every: int
) -> dict[str, Any]:
    """Train `model` full-batch on data['train'], evaluating every split; count its parameters
    before and after training and how many of them training changed."""
    before = metrics.weights_snapshot(model)
    records = fit_full_batch(model, *data["train"], steps, record_every, data)
    return {
        "records": records,
        "final": records[-1],
        "params_before": sum(w.size for w in before),
        "params_after": model.count_params(),
        "changed": metrics.changed_parameters(before, metrics.weights_snapshot(model)),
    }


def best_width(scores: dict[int, list[float]], below: int) -> int:
    """The width with the highest mean score among widths below `below` (the smallest on a tie)."""
    candidates = [w for w in scores if w < below]
    if not candidates:
        raise ParameterError(
            f"parameter 'widths': no width below the wide network's {below} units to choose from"
        )
    return max(sorted(candidates), key=lambda w: mean_sd(scores[w])[0])


def mc_grid(k_max: int) -> list[int]:
    """The k shown for Monte Carlo averaging: 1, 2, 5, 10, 20, 50, ... up to k_max, with k_max // 2 and k_max."""
    steps = [m * 10**e for e in range(7) for m in (1, 2, 5)]
    return sorted({k for k in steps if k <= k_max} | {max(1, k_max // 2), k_max})


def mc_dropout_curve(
    model: keras.Model, x: np.ndarray, y: np.ndarray, k_max: int
) -> dict[str, Any]:
    """Average k = 1 ... k_max training-mode passes and compare with the single inference pass.

    Per k: test accuracy of the average (`mc_accuracy`), mean |p_average − p_inference|
    (`mc_gap`) and the gap sampling noise alone would leave if the inference pass were exactly the
    passes' expected value (`noise_gap`: mean over examples of sd·√(2/(πk)), sd of one pass)."""
    inference = predict(model, x).ravel().astype("float64")
    passes = np.stack([predict(model, x, training=True).ravel() for _ in range(k_max)]).astype(
        "float64"
    )
    k = np.arange(1, k_max + 1)
    running = np.cumsum(passes, axis=0) / k[:, None]
    y = np.asarray(y).ravel() > 0.5
    sd = passes.std(axis=0, ddof=1) if k_max > 1 else np.zeros_like(inference)
    return {
        "mc_accuracy": np.mean((running > 0.5) == y, axis=1),
        "mc_gap": np.mean(np.abs(running - inference), axis=1),
        "noise_gap": sd.mean() * np.sqrt(2 / (math.pi * k)),
        "inference_accuracy": float(np.mean((inference > 0.5) == y)),
    }


def crossing(mc_accuracy: np.ndarray, inference_accuracy: float) -> tuple[int | None, int | None]:
    """Where the Monte Carlo accuracy (one value per k = 1, 2, ...) meets the inference pass's: the
    first k at which it reaches it, and the k from which it stays at or above it (None if never)."""
    reached = np.asarray(mc_accuracy) >= inference_accuracy - 1e-12
    if not reached.any():
        return None, None
    below = np.flatnonzero(~reached)
    stays = int(below[-1]) + 2 if below.size else 1
    return int(np.argmax(reached)) + 1, (stays if stays <= reached.size else None)


def boundary_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the goalkeeper field's true boundary on (x, y): on noisy labels, 1 − the share
    flipped. A network scoring above it on training data has learned flipped labels."""
    truth = x[:, 1] > goalkeeper_boundary(x[:, 0])
    return float(np.mean(truth == (np.asarray(y).ravel() > 0.5)))
