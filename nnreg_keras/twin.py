"""The course's network in Keras, weight for weight: the twin of `nnreg_keras.scratch`.

Keras keeps examples as rows, so a Dense kernel is the transpose of the course's `W` (shape
(n_{l-1}, n_l)) and its bias is `b.ravel()`; `set_parameters` and `get_parameters` convert.

The ½ pitfall: the course's cost adds lambd/(2m)·ΣW², while `keras.regularizers.L2(l2)` adds l2·ΣW²
to the mean loss. The same cost therefore needs `L2(l2=lambd / (2 * m))`, whose gradient is the
course's lambd/m·W. Writing `L2(lambd / m)` doubles the pull towards zero, and `L2(lambd)` multiplies
it by 2m. Keras's `Dropout(rate)` is the course's inverted dropout with `rate = 1 - keep_prob`.

`gradients` differentiates with the backend's own tool (`tf.GradientTape`, `jax.grad`, `torch.autograd`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.models import MaskedDropout
from nnreg_keras.scratch import Parameters, n_layers, shrink_then_step
from nnreg_keras.training import BACKEND, fit_full_batch, keras


def build_twin(
    layer_dims: list[int],
    learning_rate: float = 0.3,
    lambd: float = 0.0,
    m: int | None = None,
    keep_prob: float = 1.0,
    masks: list[np.ndarray] | None = None,
    parameters: Parameters | None = None,
) -> keras.Model:
    """The course's net in Keras: ReLU Dense layers, a sigmoid output, full-batch SGD on the mean
    binary cross-entropy; `L2(lambd / (2m))` on every kernel (not the biases) when lambd > 0; with
    keep_prob < 1, `Dropout(1 - keep_prob)` after each hidden layer, or `MaskedDropout` when the
    course-layout `masks` (one (n_l, m) or (n_l, 1) array per hidden layer) are given.
    `parameters` (the scratch net's, e.g. its initialization) are copied in."""
    if lambd and not m:
        raise ParameterError(
            f"m = {m!r}: accepted the number of training examples (needed when lambd > 0)"
        )
    if masks is not None and len(masks) != len(layer_dims) - 2:
        raise ParameterError(
            f"masks: got {len(masks)}, accepted one per hidden layer ({len(layer_dims) - 2})"
        )
    regularizer = keras.regularizers.L2(l2=lambd / (2 * m)) if lambd else None
    layers = [keras.Input(shape=(layer_dims[0],))]
    for l, units in enumerate(layer_dims[1:-1]):
        layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer))
        if keep_prob < 1 and masks is None:
            layers.append(keras.layers.Dropout(rate=1 - keep_prob))
        elif keep_prob < 1:
            layers.append(MaskedDropout(np.asarray(masks[l]).T, keep_prob))
    layers.append(
        keras.layers.Dense(layer_dims[-1], activation="sigmoid", kernel_regularizer=regularizer)
    )
    model = keras.Sequential(layers, name="course_twin")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="binary_crossentropy")
    if parameters is not None:
        set_parameters(model, parameters)
    return model


def _dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def set_parameters(model: keras.Model, parameters: Parameters) -> None:
    """Copy course-layout parameters into the model: kernel = W.T, bias = b.ravel()."""
    dense = _dense_layers(model)
    if len(dense) != n_layers(parameters):
        raise ParameterError(
            f"parameters: {n_layers(parameters)} layers, accepted {len(dense)} (the model's)"
        )
    for l, layer in enumerate(dense, start=1):
        layer.set_weights([parameters["W" + str(l)].T, parameters["b" + str(l)].ravel()])


def get_parameters(model: keras.Model) -> Parameters:
    """The model's weights in the course's layout (float64): W = kernel.T, b = bias as a column."""
    parameters = {}
    for l, layer in enumerate(_dense_layers(model), start=1):
        kernel, bias = layer.get_weights()
        parameters["W" + str(l)] = kernel.T.astype("float64")
        parameters["b" + str(l)] = bias[:, None].astype("float64")
    return parameters


def _loss(y, prob, losses: list) -> keras.KerasTensor:
    """Mean binary cross-entropy plus the given penalty terms."""
    loss = keras.ops.mean(keras.losses.binary_crossentropy(y, prob))
    return loss + keras.ops.sum(keras.ops.stack(losses)) if losses else loss


def _trainable_gradients(model: keras.Model, x, y, penalty: bool, training: bool) -> list:
    """Gradients of `_loss` with respect to `model.trainable_variables`, on the backend in use."""
    if BACKEND == "jax":
        import jax

        def loss(trainable, non_trainable):
            prob, non_trainable, losses = model.stateless_call(
                trainable, non_trainable, x, training=training, return_losses=True
            )
            return _loss(y, prob, losses if penalty else []), non_trainable

        grads, non_trainable = jax.grad(loss, has_aux=True)(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        )
        for variable, value in zip(model.non_trainable_variables, non_trainable, strict=True):
            variable.assign(value)  # dropout seed states advance as on the other backends
        return grads
    if BACKEND == "torch":
        import torch

        prob = model(x, training=training)
        loss = _loss(y, prob, model.losses if penalty else [])
        return list(torch.autograd.grad(loss, [v.value for v in model.trainable_variables]))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        prob = model(x, training=training)
        loss = _loss(y, prob, model.losses if penalty else [])
    return tape.gradient(loss, model.trainable_variables)


def gradients(
    model: keras.Model, x: np.ndarray, y: np.ndarray, penalty: bool = True, training: bool = True
) -> dict[str, np.ndarray]:
    """Gradients of the mean binary cross-entropy (plus the L2 penalty unless `penalty=False`) at the
    model's current weights, in the course's layout and keys (`dW1`, `db1`, ...). Examples as rows."""
    x = keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    y = keras.ops.convert_to_tensor(np.asarray(y, dtype="float32").reshape(len(x), -1))
    values = _trainable_gradients(model, x, y, penalty, training)
    by_variable = {id(v): g for v, g in zip(model.trainable_variables, values, strict=True)}
    grads = {}
    for l, layer in enumerate(_dense_layers(model), start=1):
        grads["dW" + str(l)] = keras.ops.convert_to_numpy(by_variable[id(layer.kernel)]).T.astype(
            "float64"
        )
        grads["db" + str(l)] = keras.ops.convert_to_numpy(by_variable[id(layer.bias)])[
            :, None
        ].astype("float64")
    return grads


def sgd_step(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Parameters:
    """One training step of the compiled model on the whole batch (`fit_full_batch`); the new weights."""
    fit_full_batch(model, x, y, steps=1, record_every=1, eval_sets={})
    return get_parameters(model)


def l2_shrink_gap(
    model: keras.Model, x: np.ndarray, y: np.ndarray, learning_rate: float, lambd: float
) -> float:
    """Take one Keras step with L2 and compare it with "shrink every weight by (1 - lr·lambd/m), then
    step along the data gradient": the largest absolute difference over all weights (0 up to float32)."""
    before = get_parameters(model)
    expected = shrink_then_step(
        before, gradients(model, x, y, penalty=False), learning_rate, lambd, len(x)
    )
    after = sgd_step(model, x, y)
    return float(max(np.max(np.abs(after[k] - expected[k])) for k in expected))


def gradient_gap(
    model: keras.Model, X: np.ndarray, Y: np.ndarray, expected: dict[str, np.ndarray]
) -> tuple[float, float]:
    """Compare the model's gradients on course-layout X, Y with `expected` (the numpy reference's
    for the same cost and masks, e.g. `scratch.cost_and_gradients(...)[1]`): (largest absolute
    difference, largest gradient)."""
    grads = gradients(model, X.T, Y.ravel())
    return (
        float(max(np.max(np.abs(g - expected[k])) for k, g in grads.items())),
        float(max(np.max(np.abs(g)) for g in grads.values())),
    )


@contextmanager
def precision(dtype: str) -> Iterator[None]:
    """Build, compile and train Keras models in `dtype` inside the block: "float64" repeats a
    float32 run in numpy's precision, the control for what rounding does. Sets `floatx` and the
    global dtype policy (which layers read once it exists), and puts both back afterwards. On JAX
    it also turns on 64-bit arrays for the block: train a float64 model inside the block."""
    previous = keras.config.floatx(), keras.config.dtype_policy()
    wide = _jax_x64(dtype == "float64")
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous[0])
        keras.config.set_dtype_policy(previous[1])
        if wide is not None:
            _jax_x64(wide)


def _jax_x64(enable: bool) -> bool | None:
    """On the JAX backend, turn 64-bit arrays on or off (JAX truncates float64 to float32 unless
    `jax_enable_x64` is set) and return the previous setting; elsewhere do nothing, return None."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", enable or previous)
    return previous
