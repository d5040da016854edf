"""Seeding and fast full-batch training for Keras models.

Keras pays a fixed cost per `fit` epoch (about 25 ms here on a tiny model). Full-batch gradient
descent with one epoch per step would pay it on every step, so `fit_full_batch` instead repeats the
whole training set as one batch and runs `record_every` steps inside each epoch with
`steps_per_execution`, checking the model in inference mode only at the end of each epoch.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable

import numpy as np

from nnreg_keras import guards
from nnreg_keras.metrics import binary_metrics
from nnreg_keras.quiet import stderr_to

with stderr_to(os.devnull):
    import keras

    keras.ops.convert_to_numpy(keras.ops.ones((1,)) + 1)  # the first operation logs too
# Each new model traces its own training function; TF's Python logger warns about "retracing".
logging.getLogger("tensorflow").setLevel(logging.ERROR)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and the backend (`keras.utils.set_random_seed`) and ask TF for determinism."""
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def predict(model: keras.Model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """Model outputs as a numpy array, in one call (no `predict` batching overhead)."""
    return keras.ops.convert_to_numpy(model(x, training=training))


def fit_full_batch(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    record_every: int = 100,
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] = binary_metrics,
) -> list[dict[str, float]]:
    """Train a compiled model for `steps` full-batch gradient steps; return tidy records.

    Every `record_every` steps, one record holds `step`, the mean training-mode loss of those steps
    as Keras reports it (`fit_loss`, with dropout noise and any penalty) and, for each named
    evaluation set, the inference-mode `metrics` (by default `<name>_loss` and `<name>_accuracy`).
    """
    import tensorflow as tf

    if steps < 1 or record_every < 1:
        raise ValueError(f"steps and record_every must be positive, got {steps} and {record_every}")
    chunk = min(record_every, steps)
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({chunk})")
    if model.steps_per_execution != chunk:
        model.steps_per_execution = chunk
        model.train_function = None
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32").reshape(len(x), -1)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    eval_sets = {"train": (x, y)} if eval_sets is None else eval_sets
    records: list[dict[str, float]] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            record = {"step": (epoch + 1) * chunk, "fit_loss": float(logs["loss"])}
            for name, (xs, ys) in eval_sets.items():
                for key, value in metrics(ys, predict(model, xs)).items():
                    record[f"{name}_{key}"] = value
            records.append(record)
            guards.check_record(records, model.name, model.optimizer.learning_rate, model.trainable_weights)

    model.fit(data, epochs=steps // chunk, steps_per_epoch=chunk, verbose=0,
              shuffle=False, callbacks=[Recorder()])
    return records
