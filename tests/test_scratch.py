"""The numpy implementation: the course's conventions, bit-for-bit agreement with the course's
step-by-step formulas, gradient checks, the L2 and dropout mechanics, and the course's accuracies."""

import math
import os

import numpy as np
import pytest

from nnreg_keras import scratch
from nnreg_keras.data import load_dataset, make_goalkeeper
from nnreg_keras.exceptions import ParameterError

DATA = make_goalkeeper(n_train=60, n_test=50, label_noise=0.1, seed=1)
X, Y, X_TEST, Y_TEST = scratch.from_dataset(DATA)
M = X.shape[1]
DIMS = [2, 20, 3, 1]


def relu(z):
    return np.maximum(0, z)


def course_step(X, Y, p, lambd=0.0, keep_prob=1.0):
    """One iteration of the course's 3-layer model written out layer by layer, in the assignment's
    order of operations (reg_utils for the baseline), with its np.random.seed(1) dropout."""
    W1, b1, W2, b2, W3, b3 = (p[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    m = X.shape[1]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    if keep_prob < 1:
        np.random.seed(1)
        D1 = np.random.rand(A1.shape[0], A1.shape[1]) < keep_prob
        A1 = A1 * D1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    if keep_prob < 1:
        D2 = np.random.rand(A2.shape[0], A2.shape[1]) < keep_prob
        A2 = A2 * D2 / keep_prob
    A3 = 1 / (1 + np.exp(-(np.dot(W3, A2) + b3)))
    if lambd == 0 and keep_prob == 1:
        dZ3 = 1.0 / m * (A3 - Y)
        dW3, db3 = np.dot(dZ3, A2.T), np.sum(dZ3, axis=1, keepdims=True)
        dZ2 = np.multiply(np.dot(W3.T, dZ3), np.int64(A2 > 0))
        dW2, db2 = np.dot(dZ2, A1.T), np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), np.int64(A1 > 0))
        dW1, db1 = np.dot(dZ1, X.T), np.sum(dZ1, axis=1, keepdims=True)
    else:
        dZ3 = A3 - Y
        dW3, db3 = (
            1.0 / m * np.dot(dZ3, A2.T) + lambd / m * W3,
            1.0 / m * np.sum(dZ3, axis=1, keepdims=True),
        )
        dA2 = np.dot(W3.T, dZ3)
        if keep_prob < 1:
            dA2 = dA2 * D2 / keep_prob
        dZ2 = np.multiply(dA2, np.int64(A2 > 0))
        dW2, db2 = (
            1.0 / m * np.dot(dZ2, A1.T) + lambd / m * W2,
            1.0 / m * np.sum(dZ2, axis=1, keepdims=True),
        )
        dA1 = np.dot(W2.T, dZ2)
        if keep_prob < 1:
            dA1 = dA1 * D1 / keep_prob
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1, db1 = (
            1.0 / m * np.dot(dZ1, X.T) + lambd / m * W1,
            1.0 / m * np.sum(dZ1, axis=1, keepdims=True),
        )
    grads = dict(dW1=dW1, db1=db1, dW2=dW2, db2=db2, dW3=dW3, db3=db3)
    return {k: p[k] - 0.3 * grads["d" + k] for k in p}


def test_initialization_is_the_course_scheme():
    params = scratch.initialize_parameters(DIMS)
    np.random.seed(3)
    for l in range(1, 4):
        expected = np.random.randn(DIMS[l], DIMS[l - 1]) / np.sqrt(DIMS[l - 1])
        np.testing.assert_array_equal(params[f"W{l}"], expected)
        np.testing.assert_array_equal(params[f"b{l}"], np.zeros((DIMS[l], 1)))
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]


def test_caches_have_the_course_layouts():
    params = scratch.initialize_parameters(DIMS)
    A3, cache = scratch.forward_propagation(X, params)
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3c, W3, b3 = cache
    assert A3.shape == (1, M) and A3c is A3 and W2 is params["W2"] and b3 is params["b3"]
    np.testing.assert_array_equal(A1, np.maximum(0, Z1))
    A3, cache = scratch.forward_propagation_with_dropout(X, params, keep_prob=0.8)
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3c, W3, b3 = cache
    assert D1.shape == (20, M) and D2.shape == (3, M) and D1.dtype == bool
    np.testing.assert_array_equal(A1, np.maximum(0, Z1) * D1 / 0.8)
    grads = scratch.backward_propagation_with_dropout(X, Y, cache, 0.8)
    assert set(grads) == {
        "dZ3",
        "dW3",
        "db3",
        "dA2",
        "dZ2",
        "dW2",
        "db2",
        "dA1",
        "dZ1",
        "dW1",
        "db1",
    }


@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86)])
def test_twenty_iterations_equal_the_course_formulas_bit_for_bit(lambd: float, keep_prob: float):
    expected = scratch.initialize_parameters(DIMS)
    for _ in range(20):
        expected = course_step(X, Y, expected, lambd, keep_prob)
    got = scratch.model(
        X, Y, num_iterations=20, lambd=lambd, keep_prob=keep_prob, mask_mode="fixed"
    )
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_fixed_mode_is_the_course_reseeding_on_every_call():
    params = scratch.initialize_parameters(DIMS)
    _, first = scratch.forward_propagation_with_dropout(X, params, 0.86)
    _, second = scratch.forward_propagation_with_dropout(X, params, 0.86)
    np.testing.assert_array_equal(first[1], second[1])
    np.random.seed(1)
    np.testing.assert_array_equal(first[1], np.random.rand(20, M) < 0.86)
    np.testing.assert_array_equal(first[6], np.random.rand(3, M) < 0.86)


def test_resampled_masks_change_every_step_and_keep_about_keep_prob():
    rng = np.random.default_rng(0)
    a, b = (scratch.dropout_masks([20, 3], 1000, 0.8, rng) for _ in range(2))
    assert not np.array_equal(a[0], b[0])
    assert a[0].mean() == pytest.approx(0.8, abs=0.01)
    shared = scratch.dropout_masks([20, 3], 1000, 0.8, rng, shared=True)
    assert [d.shape for d in shared] == [(20, 1), (3, 1)]


def reference_check(parameters, lambd=0.0, keep_prob=1.0, masks=None) -> float:
    """Gradient checking of the reference's own backpropagation."""

    def cost(p):
        return scratch.cost_and_gradients(p, X, Y, lambd, keep_prob, masks)[0]

    grads = scratch.cost_and_gradients(parameters, X, Y, lambd, keep_prob, masks)[1]
    return scratch.gradient_check(cost, parameters, grads)


@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_gradient_check_without_and_with_l2(lambd: float):
    assert reference_check(scratch.initialize_parameters(DIMS), lambd=lambd) < 1e-7


def test_gradient_check_with_fixed_masks_and_a_deeper_net():
    params = scratch.initialize_parameters(DIMS)
    masks = scratch.dropout_masks([20, 3], M, 0.7, np.random.RandomState(5))
    assert reference_check(params, keep_prob=0.7, masks=masks) < 1e-7
    deep = scratch.initialize_parameters([2, 6, 5, 4, 1], seed=0)
    rng = np.random.default_rng(0)
    deep = {
        k: v + 0.1 * rng.normal(size=v.shape) if k[0] == "b" else v for k, v in deep.items()
    }  # off the ReLU kinks
    assert reference_check(deep, lambd=0.5) < 1e-7
    _, cache = scratch.forward_propagation(X, deep)
    grads = scratch.backward_propagation(X, Y, cache)
    assert (
        {"dA3", "dA2", "dA1", "dW4", "db4"} <= set(grads)
        and "dA4" not in grads
        and "dA0" not in grads
    )


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    params = scratch.initialize_parameters(DIMS)
    monkeypatch.setattr(
        scratch,
        "l2_penalty",
        lambda p, lambd, m: lambd / m * sum(np.sum(p[f"W{l}"] ** 2) for l in (1, 2, 3)),
    )
    assert reference_check(params, lambd=0.7) > 1e-3  # penalty twice too big: ½ dropped


def test_numerical_gradients_of_a_known_cost():
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
    approx = scratch.numerical_gradients(
        lambda p: float(np.sum(p["W1"] ** 2) + 3 * p["b1"][0, 0]), params
    )
    np.testing.assert_allclose(approx["dW1"], [[2.0, -4.0]], atol=1e-6)
    np.testing.assert_allclose(approx["db1"], [[3.0]], atol=1e-6)
    assert params["W1"][0, 0] == 1.0  # the parameters are left as they were


def test_check_case_is_fixed_and_off_the_relu_kinks():
    X_case, Y_case, params = scratch.check_case()
    again = scratch.check_case()
    assert X_case.shape == (3, 5) and Y_case.shape == (1, 5)
    assert [params[f"W{l}"].shape for l in (1, 2, 3)] == [(4, 3), (3, 4), (1, 3)]
    np.testing.assert_array_equal(X_case, again[0])
    _, cache = scratch.forward_propagation(X_case, params)
    assert all(np.all(cache[i] != 0) for i in (0, 4))  # no Z exactly 0
    assert not np.allclose(params["W1"][:, :1].ravel()[:3], X_case[0, :3])  # not the same draws


def test_gradient_gaps_name_the_wrong_and_the_missing_gradients():
    expected = {"dW1": np.ones((2, 2)), "db1": np.zeros((2, 1)), "dZ1": np.ones(3)}
    gaps = scratch.gradient_gaps({"dW1": np.ones((2, 2)) + 0.5}, expected)
    assert gaps == {"dW1": 0.5, "db1": math.inf}
    assert (
        scratch.gradient_gaps({"dW1": np.ones(4), "db1": np.zeros((2, 1))}, expected)["dW1"]
        == math.inf
    )


def test_l2_cost_and_gradient_terms():
    params = scratch.initialize_parameters(DIMS)
    AL, cache = scratch.forward_propagation(X, params)
    squares = sum(np.sum(params[f"W{l}"] ** 2) for l in (1, 2, 3))
    assert scratch.compute_cost_with_regularization(AL, Y, params, 0.7) == pytest.approx(
        scratch.compute_cost(AL, Y) + 0.7 / (2 * M) * squares, rel=1e-12
    )
    plain = scratch.backward_propagation(X, Y, cache)
    reg = scratch.backward_propagation_with_regularization(X, Y, cache, 0.7)
    for l in (1, 2, 3):
        np.testing.assert_allclose(
            reg[f"dW{l}"] - plain[f"dW{l}"], 0.7 / M * params[f"W{l}"], atol=1e-15
        )
        np.testing.assert_allclose(reg[f"db{l}"], plain[f"db{l}"], atol=1e-15)


def test_l2_update_is_a_shrink_then_the_data_step():
    params = scratch.initialize_parameters(DIMS)
    _, cache = scratch.forward_propagation(X, params)
    with_l2 = scratch.update_parameters(
        params, scratch.backward_propagation_with_regularization(X, Y, cache, 0.7), 0.3
    )
    shrunk = scratch.shrink_then_step(
        params, scratch.backward_propagation(X, Y, cache), 0.3, 0.7, M
    )
    for key in params:
        np.testing.assert_allclose(with_l2[key], shrunk[key], rtol=0, atol=1e-14)
    assert scratch.updated_share(params, with_l2) == 1.0


def test_dropped_units_get_exactly_zero_updates_with_a_mask_shared_by_the_batch():
    params = scratch.initialize_parameters(DIMS)
    masks = [np.array([[True], [False]] * 10), np.array([[True], [False], [True]])]
    _, cache = scratch.forward_propagation_with_dropout(X, params, 0.5, masks=masks)
    grads = scratch.backward_propagation_with_dropout(X, Y, cache, 0.5)
    dropped1, dropped2 = ~masks[0].ravel(), ~masks[1].ravel()
    assert not grads["dW1"][dropped1].any() and not grads["db1"][dropped1].any()
    assert not grads["dW2"][:, dropped1].any() and not grads["dW2"][dropped2].any()
    assert not grads["dW3"][:, dropped2].any()
    assert np.count_nonzero(grads["dW1"][~dropped1]) > 0
    new = scratch.update_parameters(params, grads, 0.3)
    assert scratch.updated_share(params, new) < 0.5


def test_train_records_and_mask_modes():
    evals = {"train": (X, Y), "test": (X_TEST, Y_TEST)}
    runs = {
        mode: scratch.train(
            X,
            Y,
            num_iterations=200,
            keep_prob=0.8,
            mask_mode=mode,
            record_every=50,
            eval_sets=evals,
        )
        for mode in scratch.MASK_MODES
    }
    params, records = runs["resample"]
    assert [r["step"] for r in records] == [50, 100, 150, 200]
    assert set(records[0]) == {
        "step",
        "cost",
        "weight_norm",
        "updated_share",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    }
    assert records[-1]["weight_norm"] == pytest.approx(scratch.weight_norm(params))
    assert records[-1]["train_accuracy"] == scratch.accuracy(X, Y, params)
    assert runs["shared"][1][-1]["updated_share"] < runs["resample"][1][-1]["updated_share"]
    assert not np.array_equal(runs["fixed"][0]["W1"], params["W1"])
    again = scratch.train(X, Y, num_iterations=200, keep_prob=0.8, record_every=50, eval_sets=evals)
    assert again[1] == records  # same seed, same run


def test_train_in_float32_keeps_the_weights_and_masks_and_only_rounds():
    kwargs = dict(num_iterations=40, keep_prob=0.8, record_every=10, eval_sets={"train": (X, Y)})
    p64, r64 = scratch.train(X, Y, **kwargs)
    p32, r32 = scratch.train(X, Y, dtype="float32", **kwargs)
    assert all(v.dtype == np.float32 for v in p32.values()) and all(
        v.dtype == np.float64 for v in p64.values()
    )
    for key in p64:
        np.testing.assert_allclose(p32[key], p64[key], rtol=1e-3, atol=1e-5)
        assert not np.array_equal(p32[key].astype("float64"), p64[key])
    assert [r["updated_share"] for r in r32] == pytest.approx(
        [r["updated_share"] for r in r64], abs=0.02
    )
    with pytest.raises(ParameterError, match="dtype = 'float16': accepted one of float64, float32"):
        scratch.train(X, Y, num_iterations=2, dtype="float16")


def test_l2_shrink_gap_and_step_changes():
    params = scratch.model(X, Y, num_iterations=30)
    assert scratch.l2_shrink_gap(params, X, Y, 0.3, 0.7) < 1e-14
    plain = scratch.step_changes(params, X, Y, 0.3)
    with_l2 = scratch.step_changes(params, X, Y, 0.3, lambd=0.7)
    for l, (a, b) in enumerate(zip(plain, with_l2, strict=True), start=1):
        np.testing.assert_allclose(b - a, -0.3 * 0.7 / M * params[f"W{l}"], atol=1e-14)
    masks = [np.zeros((20, 1), dtype=bool), np.ones((3, 1), dtype=bool)]
    dropped = scratch.step_changes(params, X, Y, 0.3, keep_prob=0.5, masks=masks)
    assert (
        not dropped[0].any() and not dropped[1].any()
    )  # every first-layer unit dropped: nothing flows


def test_unchanged_share_dropped_unit_weights_and_silent_share():
    params = scratch.model(X, Y, num_iterations=30)
    masks = [np.array([[True], [False]] * 10), np.array([[True], [False], [True]])]
    changes = scratch.step_changes(params, X, Y, 0.3, keep_prob=0.5, masks=masks)
    frozen = scratch.dropped_unit_weights(params, masks)
    assert [f.shape for f in frozen] == [(20, 2), (3, 20), (1, 3)]
    assert frozen[0][1].all() and not frozen[0][0].any()  # unit 2 of layer 1 dropped: its row
    assert frozen[1][:, 1].all() and frozen[1][1].all() and frozen[2][0, 1]
    assert all(np.all(c[f] == 0) for c, f in zip(changes, frozen, strict=True))
    total = sum(c.size for c in changes)
    zeros = sum(int(np.sum(c == 0)) for c in changes)
    assert scratch.unchanged_share(changes) == zeros / total >= sum(f.sum() for f in frozen) / total
    per_example = scratch.dropout_masks([20, 3], M, 0.5, np.random.default_rng(0))
    assert not any(f.any() for f in scratch.dropped_unit_weights(params, per_example))
    plain = scratch.silent_share(params, X, Y)
    dropped = scratch.silent_share(params, X, Y, keep_prob=0.5, masks=per_example)
    assert 0 <= plain < dropped < 1
    everything = [np.zeros((20, M), dtype=bool), np.zeros((3, M), dtype=bool)]
    assert scratch.silent_share(params, X, Y, keep_prob=0.5, masks=everything) == 1.0


def test_course_splits_put_examples_in_columns():
    data = make_goalkeeper(n_train=30, n_test=50, label_noise=0.1, seed=0)
    sets = scratch.course_splits(data, 20)
    assert {name: xy[0].shape for name, xy in sets.items()} == {
        "train": (2, 30),
        "validation": (2, 20),
        "test": (2, 30),
    }
    assert sets["test"][1].shape == (1, 30) and sets["train"][0].dtype == np.float64
    np.testing.assert_array_equal(sets["validation"][0], data.x_test[:20].T)


def test_predict_and_accuracy():
    params = scratch.model(X, Y, num_iterations=300)
    p = scratch.predict(X, Y, params)
    assert p.shape == (1, M) and set(np.unique(p)) <= {0, 1}
    assert scratch.accuracy(X, Y, params) == np.mean(p == Y) > 0.7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"keep_prob": 0.0}, "keep_prob = 0.0: accepted a number in (0, 1]"),
        ({"keep_prob": 1.5}, "keep_prob = 1.5"),
        (
            {"mask_mode": "sometimes"},
            "mask_mode = 'sometimes': accepted one of resample, fixed, shared",
        ),
        ({"lambd": -1}, "lambd = -1: accepted a number >= 0"),
        ({"learning_rate": 0}, "learning_rate = 0"),
        ({"num_iterations": 2.5}, "num_iterations = 2.5"),
        ({"layer_dims": [3, 5, 1]}, "starting with the input size 2"),
        ({"layer_dims": [2, 0, 1]}, "layer_dims = [2, 0, 1]"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict, message: str):
    with pytest.raises(ParameterError) as err:
        scratch.train(X, Y, **{"num_iterations": 2, **kwargs})
    assert message in str(err.value)


def test_bad_shapes():
    with pytest.raises(ParameterError, match=r"Y = \(60,\)"):
        scratch.train(X, Y.ravel(), num_iterations=2)
    with pytest.raises(ParameterError, match="one per hidden layer"):
        scratch.forward_propagation_with_dropout(
            X, scratch.initialize_parameters(DIMS), 0.5, masks=[np.ones((20, 1))]
        )


COURSE_DATA = os.environ.get("NNREG_COURSE_DATA", "")


@pytest.mark.skipif(
    not COURSE_DATA,
    reason="set NNREG_COURSE_DATA to the course's data.mat to check its published accuracies",
)
@pytest.mark.parametrize(
    "kwargs, train_accuracy, test_accuracy",
    [
        ({}, 0.9478, 0.915),
        ({"lambd": 0.7}, 0.9384, 0.93),
        ({"keep_prob": 0.86, "mask_mode": "fixed"}, 0.9289, 0.95),
    ],
)
def test_course_data_gives_the_published_accuracies(
    kwargs: dict, train_accuracy: float, test_accuracy: float
):
    X, Y, X_test, Y_test = scratch.from_dataset(load_dataset(COURSE_DATA, dtype="float64"))
    params = scratch.model(X, Y, learning_rate=0.3, num_iterations=30000, **kwargs)
    # The course prints 0.947867298578 and the like; one example more or less moves it by 1/211.
    assert scratch.accuracy(X, Y, params) == pytest.approx(train_accuracy, abs=1e-4)
    assert scratch.accuracy(X_test, Y_test, params) == pytest.approx(test_accuracy, abs=1e-4)
