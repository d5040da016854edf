"""Seeding and fast full-batch training for Keras models, on every Keras backend.

Two fixed costs dominate training many small models: Keras's overhead per `fit` epoch or
`train_on_batch` call, and tracing each new model's training step (about a second). `fit_full_batch`
avoids both. It runs the steps between two records in one compiled call (a loop inside `tf.function`
on TensorFlow, `jax.lax.fori_loop` under `jax.jit` on JAX; on PyTorch, which compiles nothing here, a
plain loop of `train_step`). And it keeps one compiled *runner* per architecture: a model whose
architecture was trained before has its state (weights, dropout seed states, fresh optimizer state)
copied into that architecture's runner, the runner trains, and the state is copied back. The model
ends exactly as if it had been trained itself, and a notebook builds each model in plain Keras.
On TensorFlow its compiled functions are traced without autograph: the loop is an explicit
`tf.while_loop`, and Keras's step code, written for JAX too, needs no rewriting into graph code.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import logging
import os
import random
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from nnreg_keras import guards
from nnreg_keras.exceptions import DivergenceError
from nnreg_keras.metrics import binary_metrics
from nnreg_keras.quiet import stderr_to

with stderr_to(os.devnull):
    import keras

    keras.ops.convert_to_numpy(keras.ops.ones((1,)) + 1)  # the first operation logs too
# TF's Python logger warns about "retracing" when a model with reuse=False traces its own steps.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

BACKEND = keras.backend.backend()

# Seconds spent per phase in this process, for `make bench`'s table per notebook: "import" (the
# process's start until Keras is loaded here), "build" (models, their weights, optimizers, clones),
# "trace" (the first call of each compiled function: tracing, compiling and that call's own
# steps), "steps" (training calls after the first) and "evaluate" (records, predict_many). With
# NNREG_PHASES=DIR set, they are written to DIR/<process id>.json as they grow.
PHASES = dict.fromkeys(("import", "build", "trace", "steps", "evaluate"), 0.0)
_PHASE_DIR = os.environ.get("NNREG_PHASES")
_phase_depth = [0, 0.0]  # nesting depth, time of the last write


def _write_phases() -> None:
    if _PHASE_DIR:
        path = os.path.join(_PHASE_DIR, f"{os.getpid()}.json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump(PHASES, file)


@contextlib.contextmanager
def _phase(name: str):
    """Add the block's time to PHASES[name] (only the outermost block of nested ones counts)."""
    _phase_depth[0] += 1
    start = time.perf_counter()
    try:
        yield
    finally:
        _phase_depth[0] -= 1
        if _phase_depth[0] == 0:
            PHASES[name] += time.perf_counter() - start
            if _PHASE_DIR and time.monotonic() - _phase_depth[1] > 1:
                _phase_depth[1] = time.monotonic()
                _write_phases()


def _time_builds() -> None:
    """Count building models as "build" in PHASES: a Sequential's build (its layers called on the
    Input, with their weights), Dense weights, optimizers and seed generators (both create
    variables), and clone_model."""
    counted = [
        (keras.layers.Dense, "build"),
        (keras.Sequential, "build"),
        (keras.optimizers.Optimizer, "__init__"),
        (keras.random.SeedGenerator, "__init__"),
        (keras.models, "clone_model"),
    ]
    for owner, name in counted:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, _original=original, **kwargs):
            with _phase("build"):
                return _original(*args, **kwargs)

        setattr(owner, name, timed)


def _variables_without_debug_names() -> None:
    """Create TensorFlow's eager variables without the `debug_name` of their handle op.

    TensorFlow gives each variable's handle op its full name (`sequential_3/dense_12/kernel`) as
    the attribute `debug_name`, and its cache of eager kernels keys on attributes: every new name
    builds a new kernel. A variable took 0.51 ms to create under a new name and 0.07 ms under a
    name seen before (measured here), and a lesson creates thousands of uniquely named weights and
    optimizer slots (10: 10,621). Without the attribute a variable takes 0.12 ms. Its `name`,
    Keras's `path` and its values are unchanged; only TensorFlow's own messages about a handle
    lose the name."""
    from tensorflow.python.ops import gen_resource_variable_ops as ops

    create = ops.var_handle_op

    def var_handle_op(*args, debug_name="", **kwargs):
        return create(*args, **kwargs)  # without the name

    ops.var_handle_op = var_handle_op


if BACKEND == "tensorflow":
    _variables_without_debug_names()

if _PHASE_DIR:
    try:
        import psutil

        PHASES["import"] = time.time() - psutil.Process().create_time()
    except ImportError:
        pass
    _time_builds()
    atexit.register(_write_phases)

# Random bits per unit of a hashed dropout mask (`models.hash_dropout`, `BitsDropout`, and
# `keras.layers.Dropout` under `masks="fast"`): its keep probability is a multiple of 2**-MASK_BITS.
MASK_BITS = 32


def mask_threshold(rate: float) -> int:
    """The 32-bit threshold of a hashed mask at `rate`: a unit is kept when its bits reach it."""
    return min(round(float(rate) * 2**MASK_BITS), 2**MASK_BITS - 1)


def mask_scale(rate: float) -> float:
    """The inverted-dropout scale 1/(1 - rate) as a float32 number, on every backend."""
    return float(np.float32(1 / (1 - float(rate))))


def set_seed(seed: int) -> None:
    """Seed Python, numpy and the backend (`keras.utils.set_random_seed`) and ask for deterministic ops."""
    keras.utils.set_random_seed(int(seed))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif BACKEND == "torch":
        import torch

        torch.use_deterministic_algorithms(True)


# The compiled stateless call of each architecture, input shape and mode (`_compiled_call`).
_ARCHITECTURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CALLERS: dict[tuple, Callable] = {}


def predict(model: keras.Model, x: np.ndarray, training: bool = False) -> np.ndarray:
    """Model outputs as a numpy array, in one call (no `predict` batching overhead).

    On TensorFlow and JAX the call goes through one compiled function per architecture, input
    shape and mode, traced once and shared by every model of that architecture (`_compiled_call`):
    records, Monte Carlo passes and evaluations cost a fraction of an eager call each, and a value
    does not depend on which calls came before. Its outputs are the eager call's up to float
    rounding (bit-identical on JAX), and with `training=True` it draws the same dropout masks and
    advances the seed states as the eager call does. PyTorch, models with adapted preprocessing
    layers and models under `models.fast_masks` are called eagerly."""
    x = np.asarray(x)
    key = _call_key(model, x, training)
    if key is not None:
        return _compiled_call(key, model, x)
    with _phase("evaluate"):
        return keras.ops.convert_to_numpy(model(x, training=training))


def _call_key(model: keras.Model, x: np.ndarray, training: bool) -> tuple | None:
    """The architecture, input shape and mode of a call; None for one that stays eager: PyTorch,
    a model with adapted preprocessing layers (`_architecture`), or one under fast masks."""
    from nnreg_keras.models import _keras_dropouts

    if BACKEND not in ("jax", "tensorflow") or not model.built:
        return None
    try:
        architecture = _ARCHITECTURES[model]
    except KeyError:
        architecture = _ARCHITECTURES[model] = _architecture(model)
    if architecture is None or any("call" in vars(layer) for layer in _keras_dropouts(model)):
        return None
    return (architecture, x.shape, str(x.dtype), bool(training))


def _template(model: keras.Model) -> keras.Model:
    """A copy of the model's architecture for a compiled call, made without touching the global
    random streams (cloning draws default seeds from Python's `random`), its adapted Normalization
    layers reading their variables (`_live_statistics`)."""
    saved = random.getstate(), np.random.get_state()
    try:
        return _live_statistics(keras.models.clone_model(model))
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])


def _compiled_call(key: tuple, model: keras.Model, x: np.ndarray) -> np.ndarray:
    """`model(x, training)` through the architecture's compiled stateless call, on the model's own
    variables; with `training` the model's seed states take the values the call returns."""
    caller = _CALLERS.get(key)
    first = caller is None
    if first:
        template, training = _template(model), key[3]

        def call(trainable, non_trainable, xs):
            return template.stateless_call(trainable, non_trainable, xs, training=training)

        if BACKEND == "jax":
            import jax

            caller = _CALLERS[key] = jax.jit(call)
        else:
            import tensorflow as tf

            caller = _CALLERS[key] = tf.function(call, autograph=False)
    with _phase("trace" if first else "evaluate"):
        outputs, new = caller(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            keras.ops.convert_to_tensor(x),
        )
        if key[3]:
            for variable, value in zip(model.non_trainable_variables, new, strict=True):
                variable.assign(value)
        return keras.ops.convert_to_numpy(outputs)


def _repeat(n: Any, step: Callable[[], Any]) -> None:
    """`step()` n times inside a TensorFlow function traced without autograph: an explicit
    `tf.while_loop`, the loop autograph would have written for `for _ in tf.range(n)`."""
    import tensorflow as tf

    def body(i):
        step()
        return (i + 1,)

    tf.while_loop(lambda i: i < n, body, (tf.constant(0),))


def _steps_function(model: keras.Model) -> Callable[[Any, Any, int], None]:
    """`steps(x, y, n)`: n full-batch `train_step`s of the compiled model, traced once per model."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=bool(model.jit_compile), autograph=False)
        def loop(x, y, n):
            _repeat(n, lambda: model.train_step((x, y)))

        return lambda x, y, n: loop(x, y, tf.constant(n))
    if BACKEND == "jax":
        import jax

        @jax.jit
        def jax_loop(state, x, y, n):
            return jax.lax.fori_loop(0, n, lambda _, s: model.train_step(s, (x, y))[1], state)

        def steps(x, y, n):
            _build_state(model, x, y)
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
        phase = "steps"
        if self._steps is None:
            self._steps, phase = _steps_function(self.model), "trace"
        with _phase(phase):
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


def _signature(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    config: dict | None = None,
    masks: str = "keras",
    shapes: bool = True,
    variables: list | None = None,
    draw: str | None = None,
) -> str | None:
    """What a traced training step depends on; None for a model that trains itself (no config, or
    adapted preprocessing layers). `config` replaces the model's own config (see `_stack_config`).

    The model's and the compile configuration without layer names and VARIABLE_CONFIG_KEYS, the
    shapes and dtypes of every variable, and the data's shapes. A layer whose config holds a `seed`
    or `mask` must keep what they decide in variables, as Keras's dropout layers and `MaskedDropout`
    do (or be listed in ARCHITECTURE_SEED_LAYERS); anything else that shapes the step is in its config.
    `masks` (see `fit_many`) is part of it where the model has a `keras.layers.Dropout` that drops.
    With `shapes=False` only the variables' ranks count (the config then fixes what must agree);
    `variables` and `draw` replace the model's state and mask draw where the stacked model reads
    them per model."""
    if _adapts(model):
        return None
    try:
        config = model.get_config() if config is None else config
        compiled = model.get_compile_config()
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
        [
            (v.shape if shapes else len(v.shape), str(v.dtype))
            for v in (_state(model) if variables is None else variables)
        ],
        [x.shape, y.shape, str(x.dtype)],
        _mask_draw(model, masks) if draw is None else draw,
    ]
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _adapts(model: keras.Layer) -> bool:
    """Whether a preprocessing layer is inside whose `adapt` makes its statistics constants of the
    traced step, which neither a copy of the variables nor a clone carries over. An adapted
    `keras.layers.Normalization` does not count: its statistics are variables too, which the
    library's copies read at each call (`_live_statistics`)."""
    return any(
        (hasattr(layer, "adapt") and not _is_adapted_normalization(layer)) or _adapts(layer)
        for layer in getattr(model, "layers", [])
    )


def _is_adapted_normalization(layer: keras.Layer) -> bool:
    """A `keras.layers.Normalization` whose mean and variance come from `adapt` (its variables)."""
    return type(layer) is keras.layers.Normalization and layer.input_mean is None


def _live_statistics(model: keras.Model) -> keras.Model:
    """Make every adapted `keras.layers.Normalization` of `model` (a copy the library traces: a
    runner, a template) read its mean and variance from its variables at each call, as `adapt`
    computes them, instead of the constants `adapt` leaves: one traced step or call then serves
    every model of the architecture, each with the statistics of its own state."""
    for layer in model._flatten_layers():
        if _is_adapted_normalization(layer):

            def call(inputs, layer=layer):
                layer.finalize_state()  # the constants, from the variables' current values
                return type(layer).call(layer, inputs)

            object.__setattr__(layer, "call", call)
    return model


def _state(model: keras.Model) -> list[keras.Variable]:
    """Everything training reads or changes: weights, seed-generator states, optimizer variables."""
    return [*model.trainable_variables, *model.non_trainable_variables, *model.optimizer.variables]


def _copy_state(source: keras.Model, target: keras.Model) -> None:
    for s, t in zip(_state(source), _state(target), strict=True):
        t.assign(s.value)


def _new_runner(model: keras.Model, masks: str = "keras") -> _Runner:
    """A compiled copy of the model, made without touching the global random streams (cloning draws
    default seeds from Python's `random`), so the caller's later draws are as without reuse. With
    `masks="fast"` its `keras.layers.Dropout` layers draw hashed masks (`models.use_fast_masks`)."""
    from nnreg_keras.models import use_fast_masks

    saved = random.getstate(), np.random.get_state()
    try:
        clone = keras.models.clone_model(model)
        clone.compile_from_config(model.get_compile_config())
        clone.optimizer.build(clone.trainable_variables)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    if masks == "fast":
        use_fast_masks(clone)
    return _Runner(_live_statistics(clone))


MASKS = ("keras", "fast")


def _check_masks(masks: str) -> None:
    if masks not in MASKS:
        raise ValueError(f'masks = {masks!r}: accepted "keras" (Keras\'s own) or "fast" (hashed)')


def _mask_draw(model: keras.Model, masks: str) -> str:
    """How the model's dropout masks are drawn: "fast" only where `masks="fast"` changes something
    (a `keras.layers.Dropout` that drops), so other models share their runners across both."""
    from nnreg_keras.models import has_keras_dropout

    return "fast" if masks == "fast" and has_keras_dropout(model) else "keras"


def _chunk(steps: int, record_every: int) -> int:
    """Steps between two records; ValueError unless `steps` is a positive multiple of it."""
    if steps < 1 or record_every < 1:
        raise ValueError(f"steps and record_every must be positive, got {steps} and {record_every}")
    chunk = min(record_every, steps)
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({chunk})")
    return chunk


def _build_state(model: keras.Model, x: Any, y: Any) -> None:
    """Create every variable the model's first training step would create: its layers', its
    optimizer's slots and its compiled metrics' (built lazily, on the first step, otherwise). A
    compiled JAX loop carries the state as it was on entry, so that state must be complete. This is
    what Keras's own `fit` does first (`Trainer._symbolic_build`); it draws no random numbers."""
    model._symbolic_build(data_batch=(x, y))


def _check_compiled(model: keras.Model) -> None:
    """ValueError naming the model unless it is compiled; builds its optimizer."""
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"model {model.name!r} is not compiled: call model.compile(optimizer=..., loss=...) first"
        )
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _arrays(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype="float32")
    return x, np.asarray(y, dtype="float32").reshape(len(x), -1)


EvalSets = dict[str, tuple[np.ndarray, np.ndarray]]


def _record(
    step: int,
    fit_loss: float,
    outputs: Callable[[str, np.ndarray], np.ndarray],
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]],
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
) -> dict[str, float]:
    """One record: `step`, `fit_loss` and `<set>_<metric>` for each evaluation set, from the
    inference-mode `outputs(set name, inputs)`."""
    record = {"step": step, "fit_loss": fit_loss}
    with _phase("evaluate"):
        for name, (xs, ys) in eval_sets.items():
            for key, value in metrics(ys, outputs(name, xs)).items():
                record[f"{name}_{key}"] = value
    return record


def fit_full_batch(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    record_every: int = 100,
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] = binary_metrics,
    reuse: bool = True,
    masks: str = "keras",
) -> list[dict[str, float]]:
    """Train a compiled model for `steps` full-batch gradient steps; return tidy records.

    Every `record_every` steps, one record holds `step`, the mean training-mode loss of those steps
    as Keras reports it (`fit_loss`, with dropout noise and any penalty) and, for each named
    evaluation set, the inference-mode `metrics` (by default `<name>_loss` and `<name>_accuracy`).
    With `reuse` (the default) the model is trained through its architecture's runner, which gives
    the same weights, seed states and optimizer state as training the model itself, without tracing;
    `reuse=False` traces the model's own training step.

    `masks="keras"` (the default) draws `keras.layers.Dropout`'s masks as Keras does, so the model
    ends as `model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)` leaves it
    (up to float rounding); `masks="fast"` draws them from the counter-based hash of
    `models.fast_masks` (same keep probability and scaling, other random numbers, faster).
    """
    from nnreg_keras.models import use_fast_masks

    chunk = _chunk(steps, record_every)
    _check_masks(masks)
    _check_compiled(model)
    x, y = _arrays(x, y)
    eval_sets = {"train": (x, y)} if eval_sets is None else eval_sets
    signature = _signature(model, x, y, masks=masks) if reuse else None
    if signature is None:
        # The model traces its own step, just for this call: fast masks only while it trains.
        runner = _Runner(model)
        if _mask_draw(model, masks) == "fast":
            restore = use_fast_masks(model)
            try:
                return _fit_runner(model, runner, x, y, steps, chunk, eval_sets, metrics)
            finally:
                restore()
    else:
        runner = _RUNNERS.get(signature)
        if runner is None:
            runner = _RUNNERS[signature] = _new_runner(model, _mask_draw(model, masks))
        _copy_state(model, runner.model)
    return _fit_runner(model, runner, x, y, steps, chunk, eval_sets, metrics)


def _fit_runner(
    model: keras.Model,
    runner: _Runner,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    chunk: int,
    eval_sets: EvalSets,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
) -> list[dict[str, float]]:
    """`fit_full_batch`'s loop: `steps` steps of the runner in chunks, a record after each."""
    data = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    records: list[dict[str, float]] = []
    for step in range(chunk, steps + 1, chunk):
        loss = runner.train(*data, chunk)
        records.append(
            _record(step, loss, lambda _, xs: predict(runner.model, xs), eval_sets, metrics)
        )
        # The one place for what runs once per record: divergence checks and the progress tick.
        guards.check_record(
            records, model.name, model.optimizer.learning_rate, runner.model.trainable_weights
        )
    if runner.model is not model:
        _copy_state(runner.model, model)
    return records


# Models trained side by side in one compiled call, at most this many (measured by `make bench`:
# more models per call run faster per model up to about 16, then slower as they leave the cache).
GROUP_SIZE = 16


def _per_model(value: Any, n: int, name: str) -> list[Any]:
    """`value` shared by all n models, or a list with one entry per model (each seed's own data)."""
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"{name}: give one value shared by all {n} models, or a list of {n}")
        return value
    return [value] * n


def fit_many(
    models: list[keras.Model],
    x: np.ndarray | list[np.ndarray],
    y: np.ndarray | list[np.ndarray],
    steps: int,
    record_every: int = 100,
    eval_sets: EvalSets | list[EvalSets | None] | None = None,
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] = binary_metrics,
    group_size: int = GROUP_SIZE,
    masks: str = "keras",
) -> list[list[dict[str, float]]]:
    """Train compiled models as `fit_full_batch` would one at a time; return one list of records
    per model, in the order of `models`. `x`, `y` and `eval_sets` are shared by every model, or
    lists with one entry per model (each seed's own data draw, of the same shapes).

    Models of one architecture (the signature `fit_full_batch` reuses runners by) train side by side,
    up to `group_size` in one compiled call between two records. On JAX that call runs Keras's own
    training loop of each model in turn (`jax.lax.map`), the computation `fit_full_batch` compiles,
    so it is bit-identical to `fit_full_batch` one model at a time: the same records, weights, seed
    states and optimizer state, with either `masks`. On TensorFlow, Sequential models of Dense and
    dropout layers (`keras.layers.Dropout`, `models.BitsDropout`, `models.FixedMaskDropout`) trained
    with an element-wise optimizer (SGD, Adam...) and a standard loss run as one stacked model, its
    kernels with a leading model axis, under XLA unless Keras's own masks are drawn; each model
    keeps its own dropout masks and random state, so results equal `fit_full_batch` up to float
    rounding (the stacked products round differently: about 1e-6 relative after a few dozen steps).
    The stacked model reads each model's L2 strengths (no penalty counts as 0), BitsDropout rates
    (and keras.layers.Dropout rates with `masks="fast"`) and fixed masks from variables, so a sweep
    over them is one group, traced once. With hashed masks (BitsDropout, or `masks="fast"`),
    networks that differ only in where they have a dropout layer before a Dense layer (none counts
    as one that keeps every unit) are one group too; and Dense networks whose hidden activations
    are 0 at 0 (ReLU, tanh, linear) train inside the widest of their group, their extra units 0
    (they stay 0), so a sweep over widths is one group as well. A group of more than `group_size`
    models trains in equal parts, at a size traced before where one holds them (places left are
    filled with a copy whose results are dropped). Everything else (PyTorch, adapted
    preprocessing layers, other layers or optimizers, an architecture met once) goes through
    `fit_full_batch`.

    `masks` decides how `keras.layers.Dropout` layers draw their masks while they train:
    - "keras" (the default): Keras's own random masks, so each model ends as
      `model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)` leaves it (up to
      float rounding on TensorFlow's stacked model);
    - "fast": masks from the counter-based hash of `models.fast_masks` (what `BitsDropout` draws):
      the same keep probability (within 2⁻³³) and inverted scaling, independent across steps, units,
      examples, layers and models, the identity at inference; other random numbers than Keras's,
      drawn several times faster (`make bench`). Only the training call changes: the models keep
      Keras's own masks for any later `fit` or call with `training=True`.

    Each record is checked by `guards.check_record`. A model that diverges stops being recorded and
    keeps the state it had before training, as `fit_full_batch` leaves it; the others train to the
    end. Then one DivergenceError names every model that diverged; its `records` attribute holds
    the records of all models: a diverged model's up to the record that showed it, none when
    it trained alone."""
    chunk = _chunk(steps, record_every)
    _check_masks(masks)
    if group_size < 1:
        raise ValueError(f"group_size must be positive, got {group_size}")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("fit_many got the same model twice: pass each model once")
    for model in models:
        _check_compiled(model)
    n = len(models)
    if isinstance(x, list) or isinstance(y, list):
        pairs = zip(_per_model(x, n, "x"), _per_model(y, n, "y"), strict=True)
        data = [_arrays(xi, yi) for xi, yi in pairs]
    else:
        data = [_arrays(x, y)] * n  # one data set, shared
    evals = [
        {"train": data[i]} if e is None else e
        for i, e in enumerate(_per_model(eval_sets, n, "eval_sets"))
    ]
    groups: dict[Any, list[int]] = {}  # the models of each key, in order
    for i, model in enumerate(models):
        key = _group_key(model, *data[i], masks)
        shapes = tuple((name, np.shape(xs)) for name, (xs, _) in evals[i].items())
        groups.setdefault((*key, shapes) if key else ("alone", i), []).append(i)
    records: list[list[dict[str, float]]] = [[] for _ in models]
    problems: dict[int, str] = {}
    for key, members in groups.items():
        parts = _even_parts(members, group_size)
        size = len(parts[0])
        if BACKEND == "tensorflow" and key[0] != "alone" and size > 1:
            group = [models[i] for i in members]
            layout = (_widest(group), _active_slots(group, masks))
            size = _traced_size(key[0], layout, size, group_size)
        for part in parts:
            found = None
            if len(part) > 1 and key[0] != "alone":
                arguments = (
                    [models[i] for i in part],
                    key[0],
                    [data[i] for i in part],
                    steps,
                    chunk,
                    [evals[i] for i in part],
                    metrics,
                    _mask_draw(models[part[0]], masks),
                )
                if BACKEND == "jax":
                    found = _fit_group_jax(*arguments)
                else:  # every part at one size and the widest shapes: one trace
                    found = _fit_group_tf(*arguments, size, *layout)
            if found is None:
                for i in part:
                    try:
                        records[i] = fit_full_batch(
                            models[i], *data[i], steps, chunk, evals[i], metrics, masks=masks
                        )
                    except DivergenceError as error:
                        problems[i] = str(error)
                continue
            for i, (group_records, problem) in zip(part, found, strict=True):
                records[i] = group_records
                if problem:
                    problems[i] = problem
    if problems:
        first = problems[min(problems)]
        if len(problems) == len(models):  # one cause is enough: the rest read the same
            message = f"training diverged for all {len(models)} models; the first: {first}"
        else:
            names = ", ".join(repr(models[i].name) for i in sorted(problems))
            message = (
                f"training diverged for {len(problems)} of {len(models)} models ({names}); the "
                f"others trained to the end. The first: {first}"
            )
        error = DivergenceError(message)
        error.records = records
        raise error
    return records


def _traced_size(signature: str, layout: tuple, size: int, group_size: int) -> int:
    """The size to train parts of `size` models at: that of a stacked model traced before for this
    architecture and layout, if one holds them at most twice over (its places left are filled, see
    `_fit_group_tf`); else `size`. A part trained at a traced size costs no new trace."""
    traced = [
        known
        for (sig, known, *rest) in _STACKED
        if sig == signature and tuple(rest) == layout and size <= known <= min(2 * size, group_size)
    ]
    return min(traced, default=size)


def _even_parts(members: list[int], group_size: int) -> list[list[int]]:
    """`members` in consecutive parts of at most `group_size`, as equal in size as they can be: 60
    models in groups of 16 train as four of 15, so that one traced group size serves them all."""
    count = -(-len(members) // group_size)
    size = -(-len(members) // count)
    return [members[start : start + size] for start in range(0, len(members), size)]


def _group_key(model: keras.Model, x: np.ndarray, y: np.ndarray, masks: str) -> tuple | None:
    """What models must share to train in one call: the signature, and on TensorFlow a stackable
    architecture (`_stack_config`: L2 strengths, BitsDropout rates and fixed masks may differ) and
    equal optimizer scalars (step count, learning rate); None for none."""
    if BACKEND == "jax":
        signature = _signature(model, x, y, masks=masks)
        return None if signature is None else (signature,)
    draw = _mask_draw(model, masks)
    plan = _stack_plan(model, draw) if BACKEND == "tensorflow" else None
    if plan is None:
        return None
    config, shapes = _stack_config(model, draw), not _pads_widths(model, draw)
    if _slots(plan) is None:
        signature = _signature(model, x, y, config, masks, shapes)
    else:  # dropout slots: seed states and mask draws are read per model
        variables = [*model.trainable_variables, *model.optimizer.variables]
        signature = _signature(model, x, y, config, masks, shapes, variables, "slots")
    if signature is None:
        return None
    scalars = tuple(
        keras.ops.convert_to_numpy(v.value).item()
        for v in model.optimizer.variables
        if len(v.shape) == 0
    )
    return (signature, scalars)


def _group_records(
    models: list[keras.Model],
    steps: int,
    chunk: int,
    train_chunk: Callable[[], list[float]],
    show: Callable[[int], tuple[Callable[[str, np.ndarray], np.ndarray], list[Any]]],
    eval_sets: list[EvalSets],
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
) -> list[tuple[list[dict[str, float]], str | None]]:
    """Records of a group trained together: `train_chunk()` runs `chunk` steps of every model and
    returns their fit losses; `show(k)` gives model k's inference-mode outputs, as `_record` takes
    them, and its current weights (or their root mean square: `guards.check_record`)."""
    found: list[tuple[list[dict[str, float]], str | None]] = [([], None) for _ in models]
    for step in range(chunk, steps + 1, chunk):
        losses = train_chunk()
        for k, model in enumerate(models):
            records, problem = found[k]
            if problem:
                continue
            outputs, weights = show(k)
            records.append(_record(step, losses[k], outputs, eval_sets[k], metrics))
            try:
                guards.check_record(records, model.name, model.optimizer.learning_rate, weights)
            except DivergenceError as error:
                found[k] = (records, str(error))
    return found


_GROUP_LOOPS: dict[str, Callable] = {}
_TRACED: set[Any] = set()  # the compiled functions called before (for PHASES)


def _fit_group_jax(models, signature, data, steps, chunk, eval_sets, metrics, masks):
    """The runner's training loop over the models' stacked state, one model after another inside
    one compiled call (`jax.lax.map`; see `fit_many`)."""
    import jax
    import jax.numpy as jnp

    runner = _RUNNERS.get(signature)
    if runner is None:
        runner = _RUNNERS[signature] = _new_runner(models[0], masks)
    template = runner.model
    loop = _GROUP_LOOPS.get(signature)
    traced = [(signature, len(models)) in _TRACED]
    _TRACED.add((signature, len(models)))
    if loop is None:

        def one_model(state, xs, ys):
            return template.train_step(state, (xs, ys))[1]

        @jax.jit
        def loop(state, xs, ys, n):
            # Each model's own loop, one model after another in one compiled call: the same
            # computation as `fit_full_batch`'s, so the same bits. (`jax.vmap` over the models
            # batches their products, which XLA may round differently: 1e-7 after 60 steps.)
            def alone(args):
                s, x1, y1 = args
                return jax.lax.fori_loop(0, n, lambda _, t: one_model(t, x1, y1), s)

            return jax.lax.map(alone, (state, xs, ys))

        _GROUP_LOOPS[signature] = loop

    def groups(model):
        return (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables)

    for model, pair in zip([template, *models], [data[0], *data], strict=True):
        _build_state(model, *pair)
    # Each model gets its own copy of the data: the batched products then round as one model's do.
    xs, ys = (jnp.stack([jnp.asarray(pair[j]) for pair in data]) for j in (0, 1))
    state = [
        [jnp.stack([m_vars[j].value for m_vars in members]) for j in range(len(members[0]))]
        for members in zip(*(groups(m) for m in models), strict=True)
    ]
    template.reset_metrics()
    zero_metrics = [jnp.stack([v.value] * len(models)) for v in template.metrics_variables]
    shown_state: list[Any] = []

    def train_chunk():
        nonlocal state, shown_state
        with _phase("steps" if traced[0] else "trace"):
            *state, metric_values = loop((*state, zero_metrics), xs, ys, chunk)
            jax.block_until_ready(metric_values)
        traced[0] = True
        shown_state = [*state[:2], metric_values]
        losses = []
        for k in range(len(models)):
            _assign_slice(template.metrics_variables, metric_values, k)
            losses.append(float(keras.ops.convert_to_numpy(template.get_metrics_result()["loss"])))
        return losses

    def show(k):
        _assign_slice(template.trainable_variables, shown_state[0], k)
        _assign_slice(template.non_trainable_variables, shown_state[1], k)
        return (lambda _, xs: predict(template, xs)), template.trainable_weights

    found = _group_records(models, steps, chunk, train_chunk, show, eval_sets, metrics)
    for k, model in enumerate(models):
        if found[k][1] is None:
            for variables, values in zip(groups(model), state, strict=True):
                _assign_slice(variables, values, k)
    return found


def _assign_slice(variables: list[keras.Variable], stacked: list[Any], k: int) -> None:
    for variable, values in zip(variables, stacked, strict=True):
        variable.assign(values[k])


# What the TensorFlow stacked model can run: the losses by name, the element-wise optimizers.
STACKED_LOSSES = (
    "binary_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "mse",
    "mean_squared_error",
)
STACKED_OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad", "Adamax", "Nadam")


def _stack_plan(model: keras.Model, masks: str = "keras") -> list[tuple[str, keras.Layer]] | None:
    """The layers of a model the TensorFlow stacked model can train side by side with others of
    its architecture, as ("dense" | "dropout" | "bits" | "fixed", layer); None for any other model.
    With `masks="fast"` a `keras.layers.Dropout` is a "bits" step: it draws what BitsDropout draws
    (and so is one of rate 0, which draws nothing)."""
    from nnreg_keras.models import BitsDropout, FixedMaskDropout

    optimizer = model.optimizer
    config = optimizer.get_config()
    if (
        type(model) is not keras.Sequential
        or model.loss not in STACKED_LOSSES
        or type(optimizer).__name__ not in STACKED_OPTIMIZERS
        or type(optimizer).__module__.split(".")[0] != "keras"
        or any(config.get(k) for k in ("clipnorm", "global_clipnorm", "weight_decay"))
        or config.get("gradient_accumulation_steps")
        or config.get("use_ema")
    ):
        return None
    plan, seeds = [], 0
    for layer in model.layers:
        if layer.dtype_policy.name != "float32":
            return None
        if type(layer) is keras.layers.Dense and not (
            layer.bias_regularizer
            or layer.activity_regularizer
            or layer.kernel_constraint
            or layer.bias_constraint
            or layer.lora_enabled
        ):
            plan.append(("dense", layer))
        elif type(layer) is keras.layers.Dropout and layer.noise_shape is None and layer.rate < 1:
            plan.append(("bits" if masks == "fast" or layer.rate == 0 else "dropout", layer))
            seeds += layer.rate > 0
        elif type(layer) is BitsDropout:
            plan.append(("bits", layer))
            seeds += layer.rate > 0
        elif type(layer) is FixedMaskDropout:
            plan.append(("fixed", layer))
        else:
            return None
    return plan if len(model.non_trainable_variables) == seeds else None


def _model_axis(h: Any, size: int) -> Any:
    """Activations with a leading model axis: inputs shared by every model are tiled `size` times."""
    import tensorflow as tf

    return tf.tile(h[None], [size, 1, 1]) if h.shape.rank == 2 else h


def _per_model_l2(layer: keras.Layer) -> bool:
    """Whether the stacked model reads a Dense layer's kernel penalty per model: an L2 penalty, or
    none (an L2 of strength 0, which adds exactly nothing to the loss and its gradient)."""
    return (
        layer.kernel_regularizer is None or type(layer.kernel_regularizer) is keras.regularizers.L2
    )


def _reads_l2(kind: str, layer: keras.Layer) -> bool:
    """A step of the stacked plan whose L2 strength is read per model (a row of `l2`)."""
    return kind == "dense" and _per_model_l2(layer)


def _reads_bits(kind: str, layer: keras.Layer) -> bool:
    """A BitsDropout step that drops units: its threshold and scale are read per model."""
    return kind == "bits" and mask_threshold(layer.rate) > 0


def _slots(plan: list[tuple[str, keras.Layer]] | None) -> list[keras.Layer | None] | None:
    """For a stack of Dense layers, each with at most one dropout layer of hashed masks ("bits")
    just before it: that dropout layer of each Dense, None where it has none. None for any other
    plan. Models whose slots differ (dropout or none, any rate) train in one stacked model."""
    if not plan:
        return None
    slots, pending = [], None
    for kind, layer in plan:
        if kind == "bits" and pending is None:
            pending = layer
        elif kind == "dense":
            slots, pending = [*slots, pending], None
        else:
            return None
    return slots if pending is None else None


def _active_slots(models: list[keras.Model], masks: str) -> tuple[int, ...] | None:
    """The slots (`_slots`) where some model of the group draws masks; None unless slotted."""
    found = [_slots(_stack_plan(model, _mask_draw(model, masks))) for model in models]
    if any(slots is None for slots in found):
        return None
    return tuple(
        i
        for i, column in enumerate(zip(*found, strict=True))
        if any(layer is not None and layer.rate > 0 for layer in column)
    )


def _pads_widths(model: keras.Model, masks: str = "keras") -> bool:
    """Whether the stacked model may train this model inside a wider one of its group: Dense
    layers (with dropout slots, `_slots`), each hidden activation 0 at 0. Its hidden units then
    have as many more units as the widest model of the group, their weights, biases and optimizer
    slots 0: such a unit outputs 0 and gets gradient 0, so it stays 0, and the model's own units
    train as alone (up to float rounding; its masks are drawn by its own units' indices)."""
    plan = _stack_plan(model, masks)
    if _slots(plan) is None:
        return False
    denses = [layer for kind, layer in plan if kind == "dense"]
    if not all(_per_model_l2(layer) for layer in denses):
        return False
    zero = keras.ops.zeros((1, 1))
    return all(
        float(keras.ops.convert_to_numpy(layer.activation(zero))[0, 0]) == 0.0
        for layer in denses[:-1]
    )


def _widest(models: list[keras.Model]) -> tuple[tuple[int, ...], ...]:
    """The shape of each trainable variable, its largest over `models` (equal unless padded)."""
    shapes = [[tuple(v.shape) for v in m.trainable_variables] for m in models]
    return tuple(
        tuple(max(dims) for dims in zip(*same, strict=True)) for same in zip(*shapes, strict=True)
    )


def _pad(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`value` with zeros after it along each axis, to `shape`."""
    if value.shape == tuple(shape):
        return value
    return np.pad(value, [(0, t - d) for d, t in zip(value.shape, shape, strict=True)])


def _stack_config(model: keras.Model, masks: str = "keras") -> dict:
    """The model's config without what the stacked model reads per model from variables: the
    strength of each L2 kernel penalty (none counts as strength 0), each BitsDropout rate (whether
    it drops anything stays, and so for each keras.layers.Dropout with `masks="fast"`) and each
    FixedMaskDropout's seed (its mask)."""
    config = model.get_config()
    layers = {layer.name: layer for layer in model.layers}
    plan = _stack_plan(model, masks)
    hidden = [layer for kind, layer in plan if kind == "dense"][:-1]
    pads = _pads_widths(model, masks)
    if _slots(plan) is not None:  # each Dense's dropout layer is read per model, rate and seed
        dropouts = [layer for kind, layer in plan if kind == "bits"]
        config["layers"] = [
            entry
            for entry in config["layers"]
            if layers.get(entry["config"].get("name")) not in dropouts
        ]
        config["dropout"] = "a slot before each Dense layer, its rate and seed per model"
    for entry in config["layers"]:
        inner, layer = entry["config"], layers.get(entry["config"].get("name"))
        if pads and layer in hidden:
            inner["units"] = "padded to the widest of the group"
        if pads:  # the input shape of a layer after a padded one
            entry.pop("build_config", None)
        if entry["class_name"] == "Dense" and layer is not None and _per_model_l2(layer):
            inner["kernel_regularizer"] = "L2, strength per model"
        elif layer is not None and (
            entry["class_name"] == "BitsDropout"
            or (masks == "fast" and type(layer) is keras.layers.Dropout)
        ):
            threshold = mask_threshold(layer.rate)
            inner["rate"] = "none" if layer.rate == 0 else "keeps all" if not threshold else "drops"
        elif entry["class_name"] == "FixedMaskDropout":
            inner["seed"] = "mask per model"
    return config


class _StackedRunner:
    """A TensorFlow model of `size` models of one architecture: each kernel, bias, seed state and
    optimizer slot with a leading model axis. Kept per architecture and size, traced once.

    `shapes` are the stacked weights' shapes (`_widest`), by default the model's. `slots` (from
    `_active_slots`), where given, are the Dense layers whose input goes through a dropout layer
    of hashed masks in some model of the group: there each model reads its own keep threshold,
    scale, width and seed state (a model without dropout there keeps every unit)."""

    def __init__(
        self, model: keras.Model, size: int, masks: str = "keras", shapes=None, slots=None
    ):
        import tensorflow as tf

        self.size, self.plan, self.draw, self.slots = size, _stack_plan(model, masks), masks, slots
        if slots is not None:
            self.draw = "fast"  # a Keras Dropout of a slot draws hashed masks
            denses = [layer for kind, layer in self.plan if kind == "dense"]
            self.plan = []
            for i, layer in enumerate(denses):
                if i in slots:
                    self.plan.append(("slot", slots.index(i)))
                self.plan.append(("dense", layer))
        self.loss = keras.losses.get(model.loss)
        shapes = shapes or [tuple(v.shape) for v in model.trainable_variables]
        self.weights = [
            keras.Variable(np.zeros((size, *shape), "float32"), name=f"stacked_{i}")
            for i, shape in enumerate(shapes)
        ]
        seed_shapes = (
            [(2, "int64")] * len(slots)
            if slots is not None
            else [(tuple(v.shape), v.dtype) for v in model.non_trainable_variables]
        )
        self.seeds = [
            tf.Variable(np.zeros((size, *np.atleast_1d(shape)), dtype), trainable=False)
            for shape, dtype in seed_shapes
        ]
        optimizer = model.optimizer
        self.optimizer = type(optimizer).from_config(optimizer.get_config())
        self.optimizer.build(self.weights)
        self.loss_sum = tf.Variable(np.zeros(size, "float32"), trainable=False)
        # Read per model (see `_stack_config`): L2 strengths, BitsDropout thresholds and scales,
        # FixedMaskDropout masks, one row per layer that has them.
        # Python counts, not len() of the variables, which AutoGraph turns into a tensor.
        self.l2_rows = sum(_reads_l2(*step) for step in self.plan)
        self.bits_rows = (
            len(slots) if slots is not None else sum(_reads_bits(*step) for step in self.plan)
        )
        self.l2 = tf.Variable(np.zeros((self.l2_rows, size), "float32"), trainable=False)
        self.thresholds = tf.Variable(np.zeros((self.bits_rows, size), "int64"), trainable=False)
        self.scales = tf.Variable(np.zeros((self.bits_rows, size), "float32"), trainable=False)
        self.widths = tf.Variable(np.zeros((self.bits_rows, size), "int64"), trainable=False)
        self.masks = [
            tf.Variable(np.zeros((size, *layer.mask.shape), "float32"), trainable=False)
            for kind, layer in self.plan
            if kind == "fixed"
        ]

        # XLA fuses the hashed masks of BitsDropout and the element-wise updates; it draws other
        # numbers than TensorFlow's own kernels for keras.layers.Dropout, so those run without it.
        keras_masks = any(kind == "dropout" and layer.rate > 0 for kind, layer in self.plan)
        # (a "slot" step holds the index of its row, not a layer)

        @tf.function(jit_compile=not keras_masks, autograph=False)
        def loop(x, y, n):
            self.loss_sum.assign(tf.zeros_like(self.loss_sum))
            _repeat(n, lambda: self._step(x, y))

        @tf.function(autograph=False)
        def outputs(x):
            return self._forward(x, training=False)

        size_each = sum(int(np.prod(shape)) for shape in shapes)  # padding included

        @tf.function(autograph=False)
        def weight_rms():  # per model, for the divergence check: k numbers, not every weight
            squares = [
                tf.reduce_sum(tf.square(tf.cast(w.value, tf.float64)), axis=range(1, len(w.shape)))
                for w in self.weights
            ]
            return tf.sqrt(tf.add_n(squares) / size_each)

        self.loop, self.outputs, self.weight_rms = loop, outputs, weight_rms

    def _forward(self, x, training):
        import tensorflow as tf

        from nnreg_keras.models import hash_bits

        h, weights, seeds = x, iter(self.weights), iter(self.seeds)
        l2s, bits_rows = iter(range(self.l2_rows)), iter(range(self.bits_rows))
        masks = iter(self.masks)
        penalties = tf.zeros(self.size)
        for kind, layer in self.plan:
            if kind == "dense":
                kernel = next(weights)
                subscripts = "mi,kio->kmo" if h.shape.rank == 2 else "kmi,kio->kmo"
                h = tf.einsum(subscripts, h, kernel)
                if layer.use_bias:
                    h = h + next(weights)[:, None, :]
                h = layer.activation(h)
                if _reads_l2(kind, layer):  # l2·ΣW², as keras.regularizers.L2, each model its own
                    penalties += self.l2[next(l2s)] * tf.reduce_sum(tf.square(kernel), axis=[1, 2])
                else:
                    penalties += tf.stack(
                        [layer.kernel_regularizer(kernel[k]) for k in range(self.size)]
                    )
                continue
            if kind == "fixed":  # as models.FixedMaskDropout, in training and at inference
                h = _model_axis(h, self.size) * next(masks)[:, None, :] / (1.0 - layer.rate)
                continue
            if kind == "slot":  # each model's own dropout (threshold 0: it keeps every unit)
                if training:
                    h = self._slot(_model_axis(h, self.size), layer)
                continue
            if layer.rate == 0:
                continue
            seed = next(seeds)
            if not training or (kind == "bits" and mask_threshold(layer.rate) == 0):
                continue
            h = _model_axis(h, self.size)
            if kind == "bits":  # as models.BitsDropout draws it, every model at once
                row = next(bits_rows)
                index = tf.reshape(tf.range(h.shape[1] * h.shape[2], dtype=tf.int64), h.shape[1:])
                keys = tf.cast(seed, tf.uint32)[:, None, None, :]
                bits = hash_bits(tf.cast(index, tf.uint32)[None], keys[..., 0], keys[..., 1])
                keep = bits >= tf.cast(self.thresholds[row], tf.uint32)[:, None, None]
                h = tf.where(keep, h * self.scales[row][:, None, None], tf.zeros_like(h))
            else:  # as keras.random.dropout draws it, each model from its own seed state
                kept = []
                for k in range(self.size):
                    state = tf.cast(tf.math.floormod(seed[k], tf.int32.max - 1), "int32")
                    kept.append(tf.nn.experimental.stateless_dropout(h[k], layer.rate, seed=state))
                h = tf.stack(kept)
            seed.assign_add(tf.tile(tf.constant([[0, 1]], seed.dtype), [self.size, 1]))
        return h, penalties

    def _slot(self, h, row):
        """Dropout at a slot: each model's hashed mask over its own units (padded units, which
        are 0, take what they get), scaled as its layer scales; seed states advance where a
        model draws."""
        import tensorflow as tf

        from nnreg_keras.models import hash_bits

        examples = tf.range(h.shape[1], dtype=tf.int64)[None, :, None]
        units = tf.range(h.shape[2], dtype=tf.int64)[None, None, :]
        index = examples * self.widths[row][:, None, None] + units  # as the model alone counts
        seed, threshold = self.seeds[row], self.thresholds[row]
        keys = tf.cast(seed, tf.uint32)[:, None, None, :]
        bits = hash_bits(tf.cast(index, tf.uint32), keys[..., 0], keys[..., 1])
        keep = bits >= tf.cast(threshold, tf.uint32)[:, None, None]
        draws = tf.cast(threshold > 0, seed.dtype)
        seed.assign_add(tf.stack([tf.zeros_like(draws), draws], axis=1))
        return tf.where(keep, h * self.scales[row][:, None, None], tf.zeros_like(h))

    def _step(self, x, y):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs, penalties = self._forward(x, training=True)
            y = y if y.shape.rank == 3 else y[None]  # one target set for every model, or one each
            targets = tf.broadcast_to(y, tf.concat([tf.shape(outputs)[:2], tf.shape(y)[2:]], 0))
            losses = tf.reduce_mean(self.loss(targets, outputs), axis=1) + penalties
            total = tf.reduce_sum(losses)
        gradients = tape.gradient(total, [w.value for w in self.weights])
        self.optimizer.apply(gradients, self.weights)
        self.loss_sum.assign_add(losses)

    def load(self, models: list[keras.Model]) -> None:
        plans = [_stack_plan(model, self.draw) for model in models]

        def per_layer(variable, pick, value):
            """One row per layer of the plan that `pick(kind, layer)` selects, a column per model."""
            table = [[value(layer) for kind, layer in plan if pick(kind, layer)] for plan in plans]
            rows = variable.shape[0]
            variable.assign(
                np.array(table, variable.dtype.as_numpy_dtype).reshape(len(models), rows).T
            )

        per_layer(self.l2, _reads_l2, _l2_strength)
        if self.slots is not None:
            self._load_slots(models, plans)
        else:
            per_layer(self.thresholds, _reads_bits, lambda layer: mask_threshold(layer.rate))
            per_layer(self.scales, _reads_bits, lambda layer: mask_scale(layer.rate))
        fixed = [[_numpy(layer.mask) for kind, layer in plan if kind == "fixed"] for plan in plans]
        for j, variable in enumerate(self.masks):
            variable.assign(np.stack([masks[j] for masks in fixed]))
        for i, variable in enumerate(self.weights):
            shape = variable.shape[1:]
            variable.assign(
                np.stack([_pad(_numpy(m.trainable_variables[i]), shape) for m in models])
            )
        for i, variable in enumerate(self.seeds if self.slots is None else []):
            variable.assign(np.stack([_numpy(m.non_trainable_variables[i]) for m in models]))
        for i, variable in enumerate(self.optimizer.variables):
            values = [_numpy(m.optimizer.variables[i]) for m in models]
            if len(variable.shape) > values[0].ndim:  # a slot per model, padded as its weight
                values = [_pad(value, variable.shape[1:]) for value in values]
                variable.assign(np.stack(values))
            else:
                variable.assign(values[0])

    def _slotted(self, model: keras.Model) -> list[tuple[keras.Layer | None, int]]:
        """Per row of the slots: the model's dropout layer there (or None) and its input width."""
        plan = _stack_plan(model, self.draw)
        denses = [layer for kind, layer in plan if kind == "dense"]
        slots = _slots(plan)
        return [(slots[i], int(denses[i].kernel.shape[0])) for i in self.slots]

    def _load_slots(self, models: list[keras.Model], plans) -> None:
        """Each model's keep threshold, scale, width and seed state at each slot: a model without
        dropout there (or with a rate that keeps every unit) keeps every unit, unscaled."""
        rows = [self._slotted(model) for model in models]  # per model, per slot
        thresholds = [[mask_threshold(l.rate) if l else 0 for l, _ in r] for r in rows]
        scales = [
            [mask_scale(l.rate) if t else 1.0 for (l, _), t in zip(r, ts, strict=True)]
            for r, ts in zip(rows, thresholds, strict=True)
        ]
        widths = [[w for _, w in r] for r in rows]
        for variable, table in (
            (self.thresholds, thresholds),
            (self.scales, scales),
            (self.widths, widths),
        ):
            dtype = variable.dtype.as_numpy_dtype
            variable.assign(np.array(table, dtype).reshape(len(models), len(self.slots)).T)
        for j, variable in enumerate(self.seeds):
            variable.assign(
                np.stack(
                    [
                        _numpy(r[j][0].seed_generator.state)
                        if r[j][0] is not None and r[j][0].rate > 0
                        else np.zeros(2, "int64")
                        for r in rows
                    ]
                )
            )

    def values(self) -> tuple[list[np.ndarray], ...]:
        """The stacked weights, seed states and optimizer variables, as arrays (for `store`)."""
        seeds = [v.numpy() for v in self.seeds]  # TensorFlow variables
        return (
            [_numpy(v) for v in self.weights],
            seeds,
            [_numpy(v) for v in self.optimizer.variables],
        )

    def store(self, k: int, model: keras.Model, values: tuple | None = None) -> None:
        """Model k's state into `model`, read from `values()` (taken now if not given)."""
        weights, seeds, slots = values or self.values()

        def own(value, target):  # model k's part, without the padding
            return value[k][tuple(slice(0, d) for d in target.shape)]

        for value, target in zip(weights, model.trainable_variables, strict=True):
            target.assign(own(value, target))
        if self.slots is None:
            for value, target in zip(seeds, model.non_trainable_variables, strict=True):
                target.assign(value[k])
        else:
            for value, (layer, _) in zip(seeds, self._slotted(model), strict=True):
                if layer is not None and layer.rate > 0:
                    layer.seed_generator.state.assign(value[k])
        for value, target in zip(slots, model.optimizer.variables, strict=True):
            target.assign(own(value, target) if value.ndim > len(target.shape) else value)


def _l2_strength(layer: keras.Layer) -> float:
    """The l2 of a Dense layer's L2 kernel penalty; 0 without one."""
    penalty = layer.kernel_regularizer
    return 0.0 if penalty is None else float(penalty.l2)


def _numpy(variable: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(getattr(variable, "value", variable)))


_STACKED: dict[tuple, _StackedRunner] = {}


def _fit_group_tf(
    models,
    signature,
    data,
    steps,
    chunk,
    eval_sets,
    metrics,
    masks,
    size=0,
    shapes=None,
    slots=None,
):
    """A stacked model of the group, trained in one `tf.function` loop (see `fit_many`). With
    `size` above the group's length, the last model fills the places left and is trained there
    too, its copies discarded: a stacked model of that size, traced before, serves the group.
    `shapes` (`_widest` of the whole group) are the stacked variables' shapes, by default the
    group's own; `slots` (`_active_slots` of the whole group), those of a slotted architecture."""
    import tensorflow as tf

    size = max(size, len(models))
    fill = size - len(models)
    models_in, data = models + models[-1:] * fill, data + data[-1:] * fill
    eval_sets = eval_sets + eval_sets[-1:] * fill
    shapes = shapes or _widest(models)
    if slots is None:
        slots = _active_slots(models, masks)
    runner = _STACKED.get((signature, size, shapes, slots))
    if runner is None:
        runner = _StackedRunner(models[0], size, masks, shapes, slots)
        _STACKED[signature, size, shapes, slots] = runner
    runner.load(models_in)
    shared = all(pair is data[0] for pair in data)  # one data set: the stacked model broadcasts it
    stacked = [
        tf.constant(data[0][j] if shared else np.stack([p[j] for p in data])) for j in (0, 1)
    ]
    predictions: dict[str, np.ndarray] = {}
    rms = np.zeros(size)
    batches = {}  # each evaluation set's inputs: one set for all models, or one per model
    for name in eval_sets[0]:
        inputs = [np.asarray(sets[name][0], "float32") for sets in eval_sets]
        same = all(a is inputs[0] or np.array_equal(a, inputs[0]) for a in inputs)
        batches[name] = tf.constant(inputs[0] if same else np.stack(inputs))

    def train_chunk():
        with _phase("steps" if id(runner) in _TRACED else "trace"):
            runner.loop(*stacked, tf.constant(chunk))
            runner.loss_sum.numpy()
        _TRACED.add(id(runner))
        for name, batch in batches.items():
            with _phase("evaluate"):
                predictions[name] = runner.outputs(batch)[0].numpy()
        rms[:] = runner.weight_rms().numpy()
        return [float(v) for v in runner.loss_sum.numpy() / chunk]

    def show(k):
        return (lambda name, _: predictions[name][k]), float(rms[k])

    found = _group_records(models, steps, chunk, train_chunk, show, eval_sets, metrics)
    values = runner.values()
    for k, model in enumerate(models):
        if found[k][1] is None:
            runner.store(k, model, values)
    return found


# Models predicted in one compiled call, at most this many.
PREDICT_GROUP_SIZE = 32


def predict_many(
    models: list[keras.Model],
    x: np.ndarray | list[np.ndarray],
    training: bool = False,
    masks: str = "keras",
) -> list[np.ndarray]:
    """Outputs of many models as numpy arrays, one per model in the order of `models`, as
    `predict(model, x, training)` gives them (up to float rounding). `x` is shared by every model,
    or a list with one input array per model (of one shape).

    Models of one architecture are predicted in one compiled call per group of at most
    `PREDICT_GROUP_SIZE` (on TensorFlow and JAX), traced once per architecture, input shape and
    group size, instead of one call per model; a model whose architecture is met once here goes
    through `predict`, and one with an adapted preprocessing layer other than `Normalization` is
    called eagerly. With `training=True` (Monte Carlo dropout passes) each model draws its own
    masks and its dropout seed states advance as a call of its own would advance them;
    `masks="fast"` draws `keras.layers.Dropout`'s masks from the hash of `models.fast_masks` (see
    `fit_many`)."""

    _check_masks(masks)
    n = len(models)
    if isinstance(x, list):
        inputs = [np.asarray(xi, "float32") for xi in _per_model(x, n, "x")]
    else:
        inputs = [np.asarray(x, "float32")] * n
    groups: dict[Any, list[int]] = {}
    for i, model in enumerate(models):
        key = _predict_key(model, inputs[i], training, masks)
        groups.setdefault(key if key else ("alone", i), []).append(i)
    outputs: list[np.ndarray] = [np.empty(0)] * n
    _predict_groups(models, inputs, training, masks, groups, outputs)
    return outputs


def _predict_groups(models, inputs, training, masks, groups, outputs) -> None:
    """`predict_many`'s calls: one per group of models of one key, or one per model alone."""
    from nnreg_keras.models import fast_masks

    for key, members in groups.items():
        if key[0] == "alone" or len(members) == 1 or BACKEND not in ("jax", "tensorflow"):
            for i in members:
                if _mask_draw(models[i], masks) == "fast":
                    with fast_masks(models[i]):
                        outputs[i] = predict(models[i], inputs[i], training)
                else:
                    outputs[i] = predict(models[i], inputs[i], training)
            continue
        for part in _even_parts(members, PREDICT_GROUP_SIZE):
            found = _predict_group(key, [models[i] for i in part], [inputs[i] for i in part])
            for i, values in zip(part, found, strict=True):
                outputs[i] = values


def _predict_key(model: keras.Model, x: np.ndarray, training: bool, masks: str) -> tuple | None:
    """What models must share to be predicted in one compiled call; None for a model called alone."""
    architecture = _architecture(model)
    if architecture is None:
        return None
    return ((architecture, x.shape, str(x.dtype)), bool(training), _mask_draw(model, masks))


def _architecture(model: keras.Model) -> str | None:
    """What a compiled call of the model depends on besides its input: its class, its config
    without layer names and the shapes and dtypes of its variables, as a hash; None for a model
    that is called eagerly (adapted preprocessing layers, not built, no config)."""
    if _adapts(model) or not model.built:
        return None
    try:
        config = model.get_config()
    except NotImplementedError:
        return None
    names = {name: f"#{i}" for i, name in enumerate(dict.fromkeys(_layer_names(config)))}
    described = [
        type(model).__module__,
        type(model).__qualname__,
        _canonical(config, names),
        [
            (v.shape, str(v.dtype))
            for v in (*model.trainable_variables, *model.non_trainable_variables)
        ],
    ]
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


_PREDICTORS: dict[tuple, Callable] = {}


def _predictor(key: tuple, model: keras.Model) -> Callable:
    """`outputs(trainable, non_trainable, xs)`: a compiled call of the architecture's template on
    each model's stacked variables and inputs; returns outputs and new non-trainable values."""
    from nnreg_keras.models import use_fast_masks

    found = _PREDICTORS.get(key)
    if found is not None:
        return found
    template = _template(model)
    if key[2] == "fast":
        use_fast_masks(template)
    training = key[1]

    def one(args):
        trainable, non_trainable, xs = args
        out, new = template.stateless_call(
            list(trainable), list(non_trainable), xs, training=training
        )
        return out, new

    if BACKEND == "jax":
        import jax

        found = jax.jit(jax.vmap(lambda t, nt, xs: one((t, nt, xs))))
    else:
        import tensorflow as tf

        signature = (tf.float32, [v.dtype for v in template.non_trainable_variables])

        @tf.function(reduce_retracing=True, autograph=False)
        def found(t, nt, xs):
            return tf.map_fn(one, (t, nt, xs), fn_output_signature=signature)

    _PREDICTORS[key] = found
    return found


def _predict_group(key: tuple, models: list[keras.Model], inputs: list[np.ndarray]) -> list:
    """`predict_many` of models of one key, in one compiled call."""
    predictor = _predictor(key, models[0])
    stack = keras.ops.stack
    trainable = [
        stack([m.trainable_variables[j].value for m in models])
        for j in range(len(models[0].trainable_variables))
    ]
    non_trainable = [
        stack([m.non_trainable_variables[j].value for m in models])
        for j in range(len(models[0].non_trainable_variables))
    ]
    first = (key, len(models), inputs[0].shape) not in _TRACED
    _TRACED.add((key, len(models), inputs[0].shape))
    with _phase("trace" if first else "evaluate"):
        outputs, new = predictor(
            trainable, non_trainable, keras.ops.convert_to_tensor(np.stack(inputs))
        )
        outputs = keras.ops.convert_to_numpy(outputs)
    if key[1]:  # training: the seed states advance as each model's own call advances them
        for j, values in enumerate(new):
            values = keras.ops.convert_to_numpy(values)
            for k, model in enumerate(models):
                model.non_trainable_variables[j].assign(values[k])
    return [outputs[k] for k in range(len(models))]
