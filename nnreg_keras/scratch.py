"""L2 and dropout from scratch in numpy, in the course's own conventions, to read beside the assignment.

Data as columns: `X` has shape (n_x, m) and `Y` shape (1, m). Parameters live in a dict
`{"W1", "b1", ..., "WL", "bL"}` with `Wl` of shape (n_l, n_{l-1}) and `bl` of shape (n_l, 1); hidden
layers are ReLU, the output is a sigmoid. Any depth works; for the course's 3-layer net the caches
have the assignment's layouts, `(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)` and, with dropout,
`(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)`, and the gradient dicts hold the keys
`dZl, dWl, dbl, dAl`. Random numbers come from `np.random.RandomState`, which draws exactly what
`np.random.seed(s)` followed by `np.random.rand`/`randn` draws, without touching numpy's global state.
Everything is float64, except that `train(..., dtype="float32")` repeats a run in single precision
(the precision Keras computes in), same weights and masks, to measure what rounding alone does.
`nnreg_keras.twin` builds the same network in Keras.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnreg_keras import guards
from nnreg_keras.data import splits
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.metrics import binary_metrics

COURSE_LAYER_DIMS = (20, 3, 1)  # the course's hidden and output layers; the input size comes from X
COURSE_MASK_SEED = (
    1  # the assignment calls np.random.seed(1) at the start of every dropout forward pass
)
MASK_MODES = ("resample", "fixed", "shared")
DTYPES = ("float64", "float32")
Parameters = dict[str, np.ndarray]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, as the course writes it."""
    return 1 / (1 + np.exp(-x))


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x), as the course writes it."""
    return np.maximum(0, x)


def _check(name: str, ok: bool, value: Any, accepted: str) -> None:
    if not ok:
        raise ParameterError(f"{name} = {value!r}: accepted {accepted}")


def initialize_parameters(layer_dims: list[int], seed: int = 3) -> Parameters:
    """The course's initialization: after `np.random.seed(seed)`, for each layer in order,
    `W = np.random.randn(n_l, n_{l-1}) / np.sqrt(n_{l-1})` and `b = np.zeros((n_l, 1))`."""
    dims = list(layer_dims)
    _check(
        "layer_dims",
        len(dims) >= 2 and all(isinstance(n, (int, np.integer)) and n > 0 for n in dims),
        layer_dims,
        "a list of at least two positive integers (input size first, output size 1 last)",
    )
    rng = np.random.RandomState(seed)
    parameters = {}
    for l in range(1, len(dims)):
        parameters["W" + str(l)] = rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        parameters["b" + str(l)] = np.zeros((dims[l], 1))
    return parameters


def n_layers(parameters: Parameters) -> int:
    """L, the number of layers with weights."""
    return len(parameters) // 2


def forward_propagation(X: np.ndarray, parameters: Parameters) -> tuple[np.ndarray, tuple]:
    """LINEAR -> RELU for the hidden layers, LINEAR -> SIGMOID at the output; returns (AL, cache)."""
    return _forward(X, parameters, keep_prob=1.0, masks=None)


def dropout_masks(
    hidden_dims: list[int],
    m: int,
    keep_prob: float,
    rng: np.random.RandomState | np.random.Generator,
    shared: bool = False,
) -> list[np.ndarray]:
    """One mask per hidden layer, in order: `D = rng.rand(n_l, m) < keep_prob` (True = unit kept).

    With `shared=True` each mask has shape (n_l, 1): one thinned network for the whole batch."""
    return [rng.random((n, 1 if shared else m)) < keep_prob for n in hidden_dims]


def forward_propagation_with_dropout(
    X: np.ndarray,
    parameters: Parameters,
    keep_prob: float = 0.5,
    seed: int = COURSE_MASK_SEED,
    masks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, tuple]:
    """Inverted dropout on every hidden layer: `A = A * D / keep_prob`, with `D = rand(shape) < keep_prob`.

    Without `masks`, this draws them as the course does, after seeding with `seed` on every call, so
    every call drops the same units (the assignment's quirk). Pass `masks` (one per hidden layer, shape
    (n_l, m) or (n_l, 1)) to apply given masks instead."""
    _check("keep_prob", 0 < keep_prob <= 1, keep_prob, "a number in (0, 1]")
    if masks is None:
        hidden = [parameters["W" + str(l)].shape[0] for l in range(1, n_layers(parameters))]
        masks = dropout_masks(hidden, X.shape[1], keep_prob, np.random.RandomState(seed))
    return _forward(X, parameters, keep_prob, masks)


def _forward(
    X: np.ndarray, parameters: Parameters, keep_prob: float, masks: list[np.ndarray] | None
) -> tuple[np.ndarray, tuple]:
    L = n_layers(parameters)
    if masks is not None and len(masks) != L - 1:
        raise ParameterError(f"masks: got {len(masks)}, accepted one per hidden layer ({L - 1})")
    cache: tuple = ()
    A = X
    for l in range(1, L + 1):
        W, b = parameters["W" + str(l)], parameters["b" + str(l)]
        Z = np.dot(W, A) + b
        if l == L:
            A = sigmoid(Z)
            cache += (Z, A, W, b)
        elif masks is None:
            A = relu(Z)
            cache += (Z, A, W, b)
        else:
            D = masks[l - 1]
            A = relu(Z)
            A = A * D
            A = A / keep_prob
            cache += (Z, D, A, W, b)
    return A, cache


def compute_cost(AL: np.ndarray, Y: np.ndarray) -> float:
    """Mean binary cross-entropy, as the course computes it (with `np.nansum`)."""
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
    return float(1.0 / m * np.nansum(logprobs))


def l2_penalty(parameters: Parameters, lambd: float, m: int) -> float:
    """The course's L2 term: lambd/(2m) times the sum of every squared weight (biases excluded)."""
    return float(
        1.0
        / m
        * lambd
        / 2
        * sum(
            np.sum(np.square(parameters["W" + str(l)])) for l in range(1, n_layers(parameters) + 1)
        )
    )


def compute_cost_with_regularization(
    AL: np.ndarray, Y: np.ndarray, parameters: Parameters, lambd: float
) -> float:
    """Cross-entropy plus lambd/(2m)·ΣΣW²."""
    return compute_cost(AL, Y) + l2_penalty(parameters, lambd, Y.shape[1])


def _layers(cache: tuple, with_masks: bool) -> list[dict[str, np.ndarray]]:
    """Split a cache into one dict per layer (Z, D, A, W, b); the output layer has no D."""
    size = 5 if with_masks else 4
    L = (len(cache) + (1 if with_masks else 0)) // size
    layers, i = [], 0
    for l in range(1, L + 1):
        if l < L and with_masks:
            layers.append(dict(zip(("Z", "D", "A", "W", "b"), cache[i : i + 5], strict=True)))
            i += 5
        else:
            layers.append(dict(zip(("Z", "A", "W", "b"), cache[i : i + 4], strict=True)))
            i += 4
    if i != len(cache):
        raise ParameterError(
            f"cache: {len(cache)} entries do not match the layout of a network "
            f"{'with' if with_masks else 'without'} dropout masks"
        )
    return layers


def _backward(
    X: np.ndarray,
    Y: np.ndarray,
    cache: tuple,
    lambd: float = 0.0,
    keep_prob: float | None = None,
    scale_first: bool = False,
) -> dict[str, np.ndarray]:
    """Backpropagation for any depth. `scale_first` follows the course's reg_utils (dZL = 1/m (AL - Y));
    otherwise the assignment's order (dW = 1/m dZ·Aᵀ). Both give the same gradients up to rounding."""
    m = X.shape[1]
    layers = _layers(cache, with_masks=keep_prob is not None)
    L = len(layers)
    grads = {}
    dZ = 1.0 / m * (layers[-1]["A"] - Y) if scale_first else layers[-1]["A"] - Y
    for l in range(L, 0, -1):
        layer = layers[l - 1]
        A_prev = X if l == 1 else layers[l - 2]["A"]
        grads["dZ" + str(l)] = dZ
        if scale_first:
            grads["dW" + str(l)] = np.dot(dZ, A_prev.T)
            grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True)
        else:
            grads["dW" + str(l)] = 1.0 / m * np.dot(dZ, A_prev.T)
            grads["db" + str(l)] = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
        if lambd:
            grads["dW" + str(l)] = grads["dW" + str(l)] + lambd / m * layer["W"]
        if l > 1:
            dA = np.dot(layer["W"].T, dZ)
            if keep_prob is not None:
                dA = dA * layers[l - 2]["D"]
                dA = dA / keep_prob
            grads["dA" + str(l - 1)] = dA
            dZ = np.multiply(
                dA, A_prev > 0
            )  # the course's np.int64(A > 0), without promoting float32
    return grads


def backward_propagation(X: np.ndarray, Y: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """Gradients of the cross-entropy (the course's reg_utils: there dZ and dA include the 1/m)."""
    return _backward(X, Y, cache, scale_first=True)


def backward_propagation_with_regularization(
    X: np.ndarray, Y: np.ndarray, cache: tuple, lambd: float
) -> dict[str, np.ndarray]:
    """Gradients of the L2 cost: each dW gets `lambd / m * W` added, a pull towards zero on every weight."""
    return _backward(X, Y, cache, lambd=lambd)


def backward_propagation_with_dropout(
    X: np.ndarray, Y: np.ndarray, cache: tuple, keep_prob: float
) -> dict[str, np.ndarray]:
    """Gradients through the forward pass's masks: `dA = dA * D / keep_prob`, so a dropped unit passes
    no gradient back and its weights get no update from that example."""
    return _backward(X, Y, cache, keep_prob=keep_prob)


def update_parameters(
    parameters: Parameters, grads: dict[str, np.ndarray], learning_rate: float
) -> Parameters:
    """One gradient-descent step, W = W - learning_rate·dW (a new dict; the input is left as it was)."""
    new = {}
    for l in range(1, n_layers(parameters) + 1):
        new["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        new["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return new


def predict(X: np.ndarray, Y: np.ndarray, parameters: Parameters) -> np.ndarray:
    """Predicted labels (1, m) as ints: 1 where the output is above 0.5, all units taking part.
    (The course's version also prints the accuracy; use `accuracy` for that.)"""
    AL, _ = forward_propagation(X, parameters)
    return (AL > 0.5).astype(int)


def accuracy(X: np.ndarray, Y: np.ndarray, parameters: Parameters) -> float:
    """Share of examples whose predicted label equals Y, as the course prints it."""
    return float(np.mean(predict(X, Y, parameters)[0, :] == Y[0, :]))


def shrink_then_step(
    parameters: Parameters,
    data_grads: dict[str, np.ndarray],
    learning_rate: float,
    lambd: float,
    m: int,
) -> Parameters:
    """The L2 update written the other way round: every weight is first multiplied by
    (1 - learning_rate·lambd/m), then the data gradient is applied ("weight decay")."""
    shrink = 1 - learning_rate * lambd / m
    new = update_parameters(parameters, data_grads, learning_rate)
    for l in range(1, n_layers(parameters) + 1):
        new["W" + str(l)] = (
            shrink * parameters["W" + str(l)] - learning_rate * data_grads["dW" + str(l)]
        )
    return new


def l2_shrink_gap(
    parameters: Parameters, X: np.ndarray, Y: np.ndarray, learning_rate: float, lambd: float
) -> float:
    """Largest absolute difference between one gradient step on the L2 cost and "shrink every weight
    by (1 - learning_rate·lambd/m), then step along the data gradient" (0 up to rounding)."""
    l2_step = update_parameters(
        parameters, cost_and_gradients(parameters, X, Y, lambd)[1], learning_rate
    )
    by_shrink = shrink_then_step(
        parameters, cost_and_gradients(parameters, X, Y)[1], learning_rate, lambd, X.shape[1]
    )
    return float(max(np.max(np.abs(l2_step[k] - by_shrink[k])) for k in l2_step))


def step_changes(
    parameters: Parameters,
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    masks: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """The change ΔW1, ΔW2, ... that one gradient step (with L2 and/or the given dropout masks) makes."""
    new = update_parameters(
        parameters, cost_and_gradients(parameters, X, Y, lambd, keep_prob, masks)[1], learning_rate
    )
    return [
        new["W" + str(l)] - parameters["W" + str(l)] for l in range(1, n_layers(parameters) + 1)
    ]


def weight_norm(parameters: Parameters) -> float:
    """Frobenius norm of all the weights together, sqrt(ΣΣW²) (biases excluded)."""
    return float(
        np.sqrt(
            sum(
                np.sum(np.square(parameters["W" + str(l)]))
                for l in range(1, n_layers(parameters) + 1)
            )
        )
    )


def updated_share(before: Parameters, after: Parameters) -> float:
    """Share of the weights (biases excluded) that an update changed at all, compared exactly."""
    keys = ["W" + str(l) for l in range(1, n_layers(before) + 1)]
    changed = sum(np.count_nonzero(before[k] != after[k]) for k in keys)
    return float(changed / sum(before[k].size for k in keys))


def unchanged_share(changes: list[np.ndarray]) -> float:
    """Share of the entries of ΔW1, ΔW2, ... (as `step_changes` returns them) that are exactly 0."""
    return float(np.mean(np.concatenate([np.ravel(c) for c in changes]) == 0))


def dropped_unit_weights(parameters: Parameters, masks: list[np.ndarray]) -> list[np.ndarray]:
    """True at every weight into or out of a hidden unit that the masks drop for every example
    (one mask per hidden layer, shape (n_l, m) or (n_l, 1)): the weights dropout keeps still."""
    L = n_layers(parameters)
    dropped = [~np.asarray(mask, dtype=bool).any(axis=1) for mask in masks]
    weights = []
    for l in range(1, L + 1):
        rows, cols = parameters["W" + str(l)].shape
        into = dropped[l - 1] if l < L else np.zeros(rows, dtype=bool)
        out_of = dropped[l - 2] if l > 1 else np.zeros(cols, dtype=bool)
        weights.append(into[:, None] | out_of[None, :])
    return weights


def silent_share(
    parameters: Parameters,
    X: np.ndarray,
    Y: np.ndarray,
    keep_prob: float = 1.0,
    masks: list[np.ndarray] | None = None,
) -> float:
    """Share of the (weight, example) pairs that add nothing to a full-batch step. Example i adds
    dZ[j, i]·A_prev[k, i] / m to W[j, k], which is 0 when unit j passes no gradient back for that
    example (inactive or dropped) or unit k sent nothing forward (inactive or dropped)."""
    if masks is None:
        _, cache = forward_propagation(X, parameters)
    else:
        _, cache = forward_propagation_with_dropout(X, parameters, keep_prob, masks=masks)
    grads = _backward(X, Y, cache, keep_prob=None if masks is None else keep_prob)
    layers = _layers(cache, with_masks=masks is not None)
    silent = total = 0
    for l in range(1, len(layers) + 1):
        A_prev = X if l == 1 else layers[l - 2]["A"]
        adds = (grads["dZ" + str(l)] != 0)[:, None, :] & (A_prev != 0)[None, :, :]
        silent += adds.size - np.count_nonzero(adds)
        total += adds.size
    return float(silent / total)


def cost_and_gradients(
    parameters: Parameters,
    X: np.ndarray,
    Y: np.ndarray,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    masks: list[np.ndarray] | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """The cost (with the L2 term when lambd > 0) and its gradients, with L2 and dropout combined as
    the course's two assignments combine them: the dropout forward pass with the given `masks`
    (one per hidden layer), the cost plus lambd/(2m)·ΣW², and dW += lambd/m·W in backpropagation."""
    if masks is None:
        AL, cache = forward_propagation(X, parameters)
        grads = _backward(X, Y, cache, lambd=lambd)
    else:
        AL, cache = forward_propagation_with_dropout(X, parameters, keep_prob, masks=masks)
        grads = _backward(X, Y, cache, lambd=lambd, keep_prob=keep_prob)
    return compute_cost(AL, Y) + l2_penalty(parameters, lambd, Y.shape[1]), grads


def numerical_gradients(
    cost: Callable[[Parameters], float], parameters: Parameters, epsilon: float = 1e-7
) -> dict[str, np.ndarray]:
    """Central differences (J(θ+ε) − J(θ−ε)) / 2ε of `cost`, one parameter at a time, keyed as
    backpropagation keys its gradients (dW1, db1, ...)."""
    approx = {}
    for key, value in parameters.items():
        approx["d" + key] = np.zeros_like(value, dtype="float64")
        for index in np.ndindex(value.shape):
            costs = []
            for sign in (1, -1):
                shifted = {k: v.copy() for k, v in parameters.items()}
                shifted[key][index] += sign * epsilon
                costs.append(cost(shifted))
            approx["d" + key][index] = (costs[0] - costs[1]) / (2 * epsilon)
    return approx


def gradient_check(
    cost: Callable[[Parameters], float],
    parameters: Parameters,
    grads: dict[str, np.ndarray],
    epsilon: float = 1e-7,
) -> float:
    """The course's gradient checking: the relative error ‖grad − approx‖ / (‖grad‖ + ‖approx‖)
    between backpropagation's `grads` and `numerical_gradients` of `cost` at `parameters`, over every
    dW and db. Below 1e-7: backpropagation computes the gradient of that cost.

    Hold dropout masks fixed inside `cost`, and check away from ReLU kinks: at initialization
    (b = 0) an example whose previous layer is all zeros has Z = b = 0 exactly, where the finite
    difference sees half a slope and backpropagation none."""
    approx = numerical_gradients(cost, parameters, epsilon)
    grad = np.concatenate([np.ravel(grads[k]) for k in approx])
    flat = np.concatenate([v.ravel() for v in approx.values()])
    return float(np.linalg.norm(grad - flat) / (np.linalg.norm(grad) + np.linalg.norm(flat)))


def gradient_gaps(
    grads: dict[str, np.ndarray], expected: dict[str, np.ndarray]
) -> dict[str, float]:
    """For each dW and db of `expected`: the largest absolute difference from `grads`, inf where
    `grads` lacks that key or gives it another shape (a check tells which gradients are wrong)."""
    gaps = {}
    for key, value in expected.items():
        if not key.startswith(("dW", "db")):
            continue
        got = grads.get(key)
        same = got is not None and np.shape(got) == np.shape(value)
        gaps[key] = float(np.max(np.abs(np.asarray(got) - value))) if same else math.inf
    return gaps


def check_case(seed: int = 1) -> tuple[np.ndarray, np.ndarray, Parameters]:
    """Small fixed inputs for checking one's own forward and backward passes, as the course's test
    cases give them: X (3, 5), Y (1, 5) and the parameters of a [3, 4, 3, 1] net whose biases are
    not 0, so that no example sits on a ReLU kink."""
    rng = np.random.RandomState(seed)
    X = rng.randn(3, 5)
    Y = np.array([[1.0, 0.0, 1.0, 1.0, 0.0]])
    parameters = initialize_parameters([3, 4, 3, 1], seed + 1)
    for l in range(1, 4):
        parameters["b" + str(l)] = 0.1 * rng.randn(*parameters["b" + str(l)].shape)
    return X, Y, parameters


def train(
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float = 0.3,
    num_iterations: int = 30000,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    layer_dims: list[int] | None = None,
    mask_mode: str = "resample",
    seed: int = 3,
    record_every: int = 1000,
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    dtype: str = "float64",
) -> tuple[Parameters, list[dict]]:
    """Full-batch gradient descent as the course's `model()`, also returning tidy records.

    `mask_mode` (with keep_prob < 1): "resample" draws new masks on every iteration, one per example
    and unit (real dropout); "fixed" reproduces the assignment, whose forward pass reseeds with 1 on
    every call so every iteration trains the same thinned networks; "shared" draws one new mask per
    iteration for the whole batch (one sub-network per step, Keras's `Dropout(noise_shape=(1, n))`).
    Every `record_every` iterations a record holds `step`, the training `cost` of that step, the
    `weight_norm` after it, the `updated_share` of weights it changed and, for each evaluation set,
    `<name>_loss` and `<name>_accuracy` with every unit taking part. L2 and dropout may be combined.
    `dtype="float32"` runs everything (data, weights, the same masks) in single precision.
    """
    _check("X", np.ndim(X) == 2, np.shape(X), "an array of shape (n_x, m), examples as columns")
    _check(
        "Y",
        np.shape(Y) == (1, np.shape(X)[1]),
        np.shape(Y),
        f"shape (1, {np.shape(X)[1]}) to match X",
    )
    _check("learning_rate", learning_rate > 0, learning_rate, "a number > 0")
    _check(
        "num_iterations",
        int(num_iterations) == num_iterations and num_iterations > 0,
        num_iterations,
        "a positive integer",
    )
    _check(
        "record_every",
        int(record_every) == record_every and record_every > 0,
        record_every,
        "a positive integer",
    )
    _check("lambd", lambd >= 0, lambd, "a number >= 0")
    _check("keep_prob", 0 < keep_prob <= 1, keep_prob, "a number in (0, 1]")
    _check("mask_mode", mask_mode in MASK_MODES, mask_mode, "one of " + ", ".join(MASK_MODES))
    _check("dtype", dtype in DTYPES, dtype, "one of " + ", ".join(DTYPES))
    X, Y = np.asarray(X, dtype=dtype), np.asarray(Y, dtype=dtype)
    eval_sets = {
        name: (np.asarray(xs, dtype=dtype), np.asarray(ys, dtype=dtype))
        for name, (xs, ys) in (eval_sets or {}).items()
    }
    m = X.shape[1]
    dims = [X.shape[0], *COURSE_LAYER_DIMS] if layer_dims is None else list(layer_dims)
    _check(
        "layer_dims",
        dims[0] == X.shape[0] and dims[-1] == 1,
        layer_dims,
        f"a list starting with the input size {X.shape[0]} and ending with 1",
    )
    parameters = {k: v.astype(dtype) for k, v in initialize_parameters(dims, seed).items()}
    dropout, fixed = keep_prob < 1, mask_mode == "fixed"
    rng = np.random.default_rng(seed)
    # The course's masks: the same draw after np.random.seed(1) on every call, so drawing once is the same.
    masks = (
        dropout_masks(dims[1:-1], m, keep_prob, np.random.RandomState(COURSE_MASK_SEED))
        if fixed
        else None
    )
    records = []
    for i in range(1, int(num_iterations) + 1):
        if dropout and not fixed:
            masks = dropout_masks(dims[1:-1], m, keep_prob, rng, shared=mask_mode == "shared")
        if dropout:
            AL, cache = _forward(X, parameters, keep_prob, masks)
            grads = _backward(X, Y, cache, lambd=lambd, keep_prob=keep_prob)
        else:
            AL, cache = forward_propagation(X, parameters)
            grads = _backward(X, Y, cache, lambd=lambd, scale_first=not lambd)
        new = update_parameters(parameters, grads, learning_rate)
        if i % record_every == 0:
            with np.errstate(
                divide="ignore", invalid="ignore"
            ):  # a saturated float32 output costs inf
                cost = compute_cost(AL, Y) + l2_penalty(parameters, lambd, m)
            record = {
                "step": i,
                "cost": cost,
                "weight_norm": weight_norm(new),
                "updated_share": updated_share(parameters, new),
            }
            for name, (xs, ys) in eval_sets.items():
                for key, value in binary_metrics(ys, forward_propagation(xs, new)[0]).items():
                    record[f"{name}_{key}"] = value
            records.append(record)
            guards.check_record(records, "numpy model", learning_rate, new.values())
        parameters = new
    return parameters, records


def model(X: np.ndarray, Y: np.ndarray, num_iterations: int = 30000, **settings: Any) -> Parameters:
    """The course's `model()`: the 3-layer net [n_x, 20, 3, 1] by default, trained by full-batch
    gradient descent; returns the learned parameters. `settings` are `train`'s (learning_rate, lambd,
    keep_prob, layer_dims, mask_mode, seed). Each iteration computes what the assignment computes,
    operation for operation, so the course's data and settings (lambd 0.7, or keep_prob 0.86 with
    mask_mode="fixed") should give its published accuracies; `tests/test_scratch.py` checks them
    when the environment variable NNREG_COURSE_DATA names the course's data.mat."""
    return train(X, Y, num_iterations=num_iterations, record_every=num_iterations, **settings)[0]


def course_splits(data: Any, n_val: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`data.splits` (train, validation, test) in the course's layout: (X, Y), examples as columns."""
    return {
        name: (np.asarray(x, dtype="float64").T, np.asarray(y, dtype="float64")[None, :])
        for name, (x, y) in splits(data, n_val).items()
    }


def from_dataset(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A `nnreg_keras.data.Dataset` (examples as rows) in the course's layout: X, Y, X_test, Y_test."""
    return (
        np.asarray(data.x_train, dtype="float64").T,
        np.asarray(data.y_train, dtype="float64")[None, :],
        np.asarray(data.x_test, dtype="float64").T,
        np.asarray(data.y_test, dtype="float64")[None, :],
    )
