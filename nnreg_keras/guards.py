"""Stopping training that diverged, with a message that says where and why.

`check_record` runs once per record in the training loops (`training.fit_full_batch`,
`scratch.train`) and raises `DivergenceError` on the first sign of divergence:

- a non-finite loss or weight;
- exploding weights: their root mean square above `MAX_WEIGHT_RMS` (a trained net stays near 1);
- a collapse to chance level: accuracy near 1/2 while the loss has risen well above its first
  record. A strongly regularized model that predicts the majority class with a loss no higher than
  at the start is not divergence, and passes.

It also notes the record (`recording.note_progress`), so the runner can show how far training has come.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from nnreg_keras.exceptions import DivergenceError
from nnreg_keras.recording import note_progress

MAX_WEIGHT_RMS = 1e3
CHANCE_ACCURACY = 0.6  # at most this accuracy counts as chance level for a binary label
LOSS_RISE = 1.5  # ... when the loss is this many times its first record (and above ln 2)
_LOSS_KEYS = ("fit_loss", "cost", "loss")


def _loss(record: dict[str, Any]) -> float | None:
    return next((float(record[k]) for k in _LOSS_KEYS if k in record), None)


def _accuracy(record: dict[str, Any]) -> float | None:
    keys = sorted(k for k in record if k.endswith("accuracy"))
    key = "train_accuracy" if "train_accuracy" in keys else (keys[0] if keys else None)
    return None if key is None else float(record[key])


def _learning_rate(value: Any) -> float:
    """A number, a Keras variable or a schedule (its initial rate)."""
    value = getattr(value, "initial_learning_rate", value)
    return float(np.asarray(value))


def _problem(records: list[dict[str, Any]], weights: Iterable[Any] | float) -> str | None:
    record, first = records[-1], records[0]
    loss, first_loss = _loss(record), _loss(first)
    bad = sorted(k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v))
    if bad:
        return f"{', '.join(bad)} became {record[bad[0]]}"
    if isinstance(weights, (int, float)):  # their root mean square, computed where they are
        rms = float(weights)
    else:
        flat = [np.asarray(w, dtype="float64").ravel() for w in weights]
        size = sum(v.size for v in flat)
        rms = math.sqrt(sum(float(v @ v) for v in flat) / size) if size else 0.0
    if not math.isfinite(rms):
        return "the weights became infinite or NaN"
    if rms > MAX_WEIGHT_RMS:
        return f"the weights exploded (root mean square {rms:.3g})"
    accuracy = _accuracy(record)
    if (
        loss is not None
        and first_loss is not None
        and accuracy is not None
        and len(records) > 1
        and accuracy <= CHANCE_ACCURACY
        and loss > max(LOSS_RISE * first_loss, math.log(2))
    ):
        return (
            f"accuracy fell to chance level ({accuracy:.2f}) while the loss rose from "
            f"{first_loss:.3g} to {loss:.3g}"
        )
    return None


def check_record(
    records: list[dict[str, Any]], model: str, learning_rate: Any, weights: Iterable[Any] | float
) -> None:
    """Raise DivergenceError if the newest of `records` shows divergence; tick the progress line.

    `learning_rate` is a number, a Keras variable or a schedule; `weights` are the model's arrays,
    or their root mean square (a stacked model computes it for each of its models at once)."""
    step = int(records[-1].get("step", len(records)))
    problem = _problem(records, weights)
    if problem:
        rate = _learning_rate(learning_rate)
        raise DivergenceError(
            f"training diverged: model {model!r} at step {step}: {problem}; "
            f"likely cause: a learning rate too large for this model: lower "
            f"learning_rate, now {rate:g}"
        )
    note_progress(model, step, first=len(records) == 1)
