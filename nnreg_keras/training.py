"""Seeding and fast full-batch training for Keras models, on every Keras backend.

Two fixed costs dominate training many small models: Keras's overhead per `fit` epoch or
`train_on_batch` call, and tracing each new model's training step (about a second). `fit_full_batch`
avoids both. It runs the steps between two records in one compiled call (a loop inside `tf.function`
on TensorFlow, `jax.lax.fori_loop` under `jax.jit` on JAX; on PyTorch, which compiles nothing here, a
plain loop of `train_step`). And it keeps one compiled *runner* per architecture: a model whose
architecture was trained before has its state (weights, dropout seed states, fresh optimizer state)
copied into that architecture's runner, the runner trains, and the state is copied back. The model
ends exactly as if it had been trained itself, and a notebook builds each model in plain Keras.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from nnreg_keras import guards
from nnreg_keras.metrics import binary_metrics
from nnreg_keras.quiet import stderr_to

with stderr_to(os.devnull):
    import keras

    keras.ops.convert_to_numpy(keras.ops.ones((1,)) + 1)  # the first operation logs too
# TF's Python logger warns about "retracing" when a model with reuse=False traces its own steps.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

BACKEND = keras.backend.backend()


def set_seed(seed: int) -> None:
    """Seed Python, numpy and the backend (`keras.utils.set_random_seed`) and ask for deterministic ops."""
    keras.utils.set_random_seed(int(seed))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif BACKEND == "torch":
        import torch

        torch.use_deterministic_algorithms(True)


def predict(model: keras.Model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """Model outputs as a numpy array, in one call (no `predict` batching overhead)."""
    return keras.ops.convert_to_numpy(model(x, training=training))


def _steps_function(model: keras.Model) -> Callable[[Any, Any, int], None]:
    """`steps(x, y, n)`: n full-batch `train_step`s of the compiled model, traced once per model."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=bool(model.jit_compile))
        def loop(x, y, n):
            for _ in tf.range(n):
                model.train_step((x, y))

        return lambda x, y, n: loop(x, y, tf.constant(n))
    if BACKEND == "jax":
        import jax

        @jax.jit
        def jax_loop(state, x, y, n):
            return jax.lax.fori_loop(0, n, lambda _, s: model.train_step(s, (x, y))[1], state)

        def steps(x, y, n):
            groups = (
                model.trainable_variables,
                model.non_trainable_variables,
                model.optimizer.variables,
                model.metrics_variables,
            )
            state = jax_loop(tuple([v.value for v in group] for group in groups), x, y, n)
            for group, values in zip(groups, state, strict=True):
                for variable, value in zip(group, values, strict=True):
                    variable.assign(value)

        return steps

    def steps(x, y, n):  # PyTorch: one eager step at a time (`steps_per_execution` must be 1 there)
        for _ in range(n):
            model.train_step((x, y))

    return steps


class _Runner:
    """A compiled model with its traced `steps` function, built on first use."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._steps: Callable[[Any, Any, int], None] | None = None

    def train(self, x: Any, y: Any, n: int) -> float:
        """n steps; the mean training-mode loss over them, as Keras's loss tracker reports it."""
        if self._steps is None:
            self._steps = _steps_function(self.model)
        self.model.reset_metrics()
        self._steps(x, y, n)
        return float(keras.ops.convert_to_numpy(self.model.get_metrics_result()["loss"]))


_RUNNERS: dict[str, _Runner] = {}


def _layer_names(config: dict) -> list[str]:
    """Names of a Sequential or Functional model and of its layers, nested models included."""
    names = [config["name"]] if isinstance(config.get("name"), str) else []
    for entry in config.get("layers", []):
        inner = entry.get("config", {})
        names += (
            _layer_names(inner) if "layers" in inner else [inner.get("name"), entry.get("name")]
        )
    return [n for n in names if isinstance(n, str)]


# Config entries whose values act only through variables, which are copied: a dropout layer's `seed`
# (seed-generator state) and the masks of `models.MaskedDropout`. `models.FixedMaskDropout`'s seed
# draws a constant mask, part of the architecture, so it is kept.
VARIABLE_CONFIG_KEYS = ("seed", "mask")
ARCHITECTURE_SEED_LAYERS = ("FixedMaskDropout",)


def _canonical(value: Any, names: dict[str, str], keep_seed: bool = False) -> Any:
    """The config without VARIABLE_CONFIG_KEYS, with the given names replaced by their placeholders."""
    if isinstance(value, dict):
        keep = value.get("class_name") in ARCHITECTURE_SEED_LAYERS
        return {
            k: _canonical(v, names, keep)
            for k, v in value.items()
            if k not in VARIABLE_CONFIG_KEYS or (keep_seed and k == "seed")
        }
    if isinstance(value, (list, tuple)):
        return [_canonical(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def _signature(model: keras.Model, x: np.ndarray, y: np.ndarray) -> str | None:
    """What a traced training step depends on; None for a model that trains itself (no config, or
    adapted preprocessing layers).

    The model's and the compile configuration without layer names and VARIABLE_CONFIG_KEYS, the
    shapes and dtypes of every variable, and the data's shapes. A layer whose config holds a `seed`
    or `mask` must keep what they decide in variables, as Keras's dropout layers and `MaskedDropout`
    do (or be listed in ARCHITECTURE_SEED_LAYERS); anything else that shapes the step is in its config."""
    if _adapts(model):
        return None
    try:
        config, compiled = model.get_config(), model.get_compile_config()
    except NotImplementedError:
        return None
    unique_names = [
        *_layer_names(config),
        model.optimizer.name,
    ]  # Keras numbers them: dense_3, adam_2
    names = {name: f"#{i}" for i, name in enumerate(dict.fromkeys(unique_names))}
    described = [
        type(model).__module__,
        type(model).__qualname__,
        _canonical(config, names),
        _canonical(compiled, names),
        [(v.shape, str(v.dtype)) for v in _state(model)],
        [x.shape, y.shape, str(x.dtype)],
    ]
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _adapts(model: keras.Layer) -> bool:
    """Whether a preprocessing layer (`Normalization`...) is inside: `adapt` makes its statistics
    constants of the traced step, which neither a copy of the variables nor a clone carries over."""
    return any(hasattr(layer, "adapt") or _adapts(layer) for layer in getattr(model, "layers", []))


def _state(model: keras.Model) -> list[keras.Variable]:
    """Everything training reads or changes: weights, seed-generator states, optimizer variables."""
    return [*model.trainable_variables, *model.non_trainable_variables, *model.optimizer.variables]


def _copy_state(source: keras.Model, target: keras.Model) -> None:
    for s, t in zip(_state(source), _state(target), strict=True):
        t.assign(s.value)


def _new_runner(model: keras.Model) -> _Runner:
    """A compiled copy of the model, made without touching the global random streams (cloning draws
    default seeds from Python's `random`), so the caller's later draws are as without reuse."""
    saved = random.getstate(), np.random.get_state()
    try:
        clone = keras.models.clone_model(model)
        clone.compile_from_config(model.get_compile_config())
        clone.optimizer.build(clone.trainable_variables)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    return _Runner(clone)


def fit_full_batch(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    record_every: int = 100,
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] = binary_metrics,
    reuse: bool = True,
) -> list[dict[str, float]]:
    """Train a compiled model for `steps` full-batch gradient steps; return tidy records.

    Every `record_every` steps, one record holds `step`, the mean training-mode loss of those steps
    as Keras reports it (`fit_loss`, with dropout noise and any penalty) and, for each named
    evaluation set, the inference-mode `metrics` (by default `<name>_loss` and `<name>_accuracy`).
    With `reuse` (the default) the model is trained through its architecture's runner, which gives
    the same weights, seed states and optimizer state as training the model itself, without tracing;
    `reuse=False` traces the model's own training step.
    """
    if steps < 1 or record_every < 1:
        raise ValueError(f"steps and record_every must be positive, got {steps} and {record_every}")
    chunk = min(record_every, steps)
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({chunk})")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"model {model.name!r} is not compiled: call model.compile(optimizer=..., loss=...) first"
        )
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32").reshape(len(x), -1)
    eval_sets = {"train": (x, y)} if eval_sets is None else eval_sets
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    signature = _signature(model, x, y) if reuse else None
    if signature is None:
        runner = _Runner(model)
    else:
        runner = _RUNNERS.get(signature)
        if runner is None:
            runner = _RUNNERS[signature] = _new_runner(model)
        _copy_state(model, runner.model)
    data = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    records: list[dict[str, float]] = []
    for step in range(chunk, steps + 1, chunk):
        record = {"step": step, "fit_loss": runner.train(*data, chunk)}
        for name, (xs, ys) in eval_sets.items():
            for key, value in metrics(ys, predict(runner.model, xs)).items():
                record[f"{name}_{key}"] = value
        records.append(record)
        # The one place for what runs once per record: divergence checks and the progress tick.
        guards.check_record(
            records, model.name, model.optimizer.learning_rate, runner.model.trainable_weights
        )
    if runner.model is not model:
        _copy_state(runner.model, model)
    return records


def _per_model(value: Any, n: int, name: str) -> list[Any]:
    """`value` shared by n models, or a list holding one value per model."""
    if isinstance(value, list) and len(value) == n and n and not np.isscalar(value[0]):
        if name != "eval_sets" or all(v is None or isinstance(v, dict) for v in value):
            return value
    if isinstance(value, list) and name != "eval_sets":
        raise ValueError(f"{name}: give one array shared by all {n} models, or a list of {n}")
    return [value] * n


def fit_many(
    models: list[keras.Model],
    x: Any,
    y: Any,
    steps: int,
    record_every: int = 100,
    eval_sets: Any = None,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] = binary_metrics,
) -> list[list[dict[str, float]]]:
    """Train several compiled models as `fit_full_batch` trains one; return one list of records per
    model, in the order of `models`. `x`, `y` and `eval_sets` are shared by every model, or lists
    with one entry per model (each seed's own data draw)."""
    n = len(models)
    xs, ys, evals = (_per_model(v, n, k) for v, k in ((x, "x"), (y, "y"), (eval_sets, "eval_sets")))
    return [
        fit_full_batch(model, xi, yi, steps, record_every, ev, metrics)
        for model, xi, yi, ev in zip(models, xs, ys, evals, strict=True)
    ]
