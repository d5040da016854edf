"""The Keras twin against the numpy implementation: same gradients, same masks, same L2, same curves."""

import numpy as np
import pytest

from nnreg_keras import scratch, twin
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.models import MaskedDropout
from nnreg_keras.training import fit_full_batch, keras, predict, set_seed

DATA = make_goalkeeper(n_train=120, n_test=50, label_noise=0.1, seed=2)
X, Y, _, _ = scratch.from_dataset(DATA)
M = X.shape[1]
DIMS = [2, 20, 3, 1]
INIT = scratch.initialize_parameters(DIMS)


def assert_same_gradients(keras_grads: dict, numpy_grads: dict, atol: float = 1e-6):
    assert set(keras_grads) == {"dW1", "db1", "dW2", "db2", "dW3", "db3"}
    for key, value in keras_grads.items():
        assert value.shape == numpy_grads[key].shape, key
        np.testing.assert_allclose(value, numpy_grads[key], rtol=1e-4, atol=atol, err_msg=key)


def test_weights_are_copied_transposed_and_back():
    set_seed(0)
    model = twin.build_twin(DIMS, parameters=INIT)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense[0].kernel.shape == (2, 20)
    np.testing.assert_array_equal(dense[1].get_weights()[0], INIT["W2"].T.astype("float32"))
    back = twin.get_parameters(model)
    for key in INIT:
        np.testing.assert_allclose(back[key], INIT[key], rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(
        predict(model, DATA.x_train).ravel(),
        scratch.forward_propagation(X, INIT)[0].ravel(),
        rtol=1e-5,
    )


@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_step_zero_gradients_equal_the_scratch_gradients(lambd: float):
    set_seed(0)
    model = twin.build_twin(DIMS, lambd=lambd, m=M, parameters=INIT)
    _, cache = scratch.forward_propagation(X, INIT)
    expected = scratch.backward_propagation_with_regularization(X, Y, cache, lambd)
    assert_same_gradients(twin.gradients(model, DATA.x_train, DATA.y_train), expected)


def test_the_half_pitfall_l2_of_lambd_over_m_doubles_the_pull():
    set_seed(0)
    model = twin.build_twin(DIMS, parameters=INIT)
    wrong = keras.Sequential(
        [keras.Input((2,))]
        + [
            keras.layers.Dense(
                n,
                activation="relu" if n > 1 else "sigmoid",
                kernel_regularizer=keras.regularizers.L2(0.7 / M),
            )
            for n in DIMS[1:]
        ]
    )
    twin.set_parameters(wrong, INIT)
    data_only = twin.gradients(model, DATA.x_train, DATA.y_train)
    doubled = twin.gradients(wrong, DATA.x_train, DATA.y_train)
    np.testing.assert_allclose(
        doubled["dW2"] - data_only["dW2"], 2 * 0.7 / M * INIT["W2"], rtol=1e-4, atol=1e-7
    )


def test_given_masks_give_the_same_gradients_as_the_course_dropout():
    masks = scratch.dropout_masks(
        DIMS[1:-1], M, 0.86, np.random.RandomState(scratch.COURSE_MASK_SEED)
    )
    set_seed(0)
    model = twin.build_twin(DIMS, keep_prob=0.86, masks=masks, parameters=INIT)
    _, cache = scratch.forward_propagation_with_dropout(X, INIT, 0.86)  # the course's own draw
    np.testing.assert_array_equal(cache[1], masks[0])
    assert_same_gradients(
        twin.gradients(model, DATA.x_train, DATA.y_train),
        scratch.backward_propagation_with_dropout(X, Y, cache, 0.86),
    )
    np.testing.assert_array_equal(
        predict(model, DATA.x_test), predict(twin.build_twin(DIMS, parameters=INIT), DATA.x_test)
    )


def test_dropped_units_rows_and_columns_are_exactly_zero_in_keras_too():
    masks = [np.arange(20)[:, None] % 3 != 0, np.array([[True], [False], [True]])]
    set_seed(0)
    model = twin.build_twin(DIMS, keep_prob=0.5, masks=masks, parameters=INIT)
    grads = twin.gradients(model, DATA.x_train, DATA.y_train)
    _, cache = scratch.forward_propagation_with_dropout(X, INIT, 0.5, masks=masks)
    assert_same_gradients(grads, scratch.backward_propagation_with_dropout(X, Y, cache, 0.5))
    dropped1, dropped2 = ~masks[0].ravel(), ~masks[1].ravel()
    assert np.all(grads["dW1"][dropped1] == 0) and np.all(grads["db1"][dropped1] == 0)
    assert np.all(grads["dW2"][:, dropped1] == 0) and np.all(grads["dW2"][dropped2] == 0)
    assert np.all(grads["dW3"][:, dropped2] == 0)
    before = twin.get_parameters(model)
    after = twin.sgd_step(model, DATA.x_train, DATA.y_train)
    np.testing.assert_array_equal(after["W1"][dropped1], before["W1"][dropped1])
    assert not np.array_equal(after["W1"][~dropped1], before["W1"][~dropped1])


def test_l2_step_is_a_shrink_by_one_minus_lr_lambd_over_m():
    set_seed(0)
    model = twin.build_twin(DIMS, learning_rate=0.3, lambd=0.7, m=M, parameters=INIT)
    assert twin.l2_shrink_gap(model, DATA.x_train, DATA.y_train, 0.3, 0.7) < 1e-6
    # the check can fail: claiming a shrink twice as strong is off by lr·lambd/m·|W|
    set_seed(0)
    model = twin.build_twin(DIMS, learning_rate=0.3, lambd=0.7, m=M, parameters=INIT)
    assert twin.l2_shrink_gap(model, DATA.x_train, DATA.y_train, 0.3, 1.4) > 1e-4


def test_a_thousand_l2_steps_follow_the_same_loss_curve():
    set_seed(0)
    model = twin.build_twin(DIMS, learning_rate=0.3, lambd=0.7, m=M, parameters=INIT)
    keras_records = fit_full_batch(model, DATA.x_train, DATA.y_train, steps=1000, record_every=100)
    _, numpy_records = scratch.train(
        X, Y, num_iterations=1000, lambd=0.7, record_every=100, eval_sets={"train": (X, Y)}
    )
    assert [r["step"] for r in keras_records] == [r["step"] for r in numpy_records]
    keras_loss = np.array([r["train_loss"] for r in keras_records])
    numpy_loss = np.array([r["train_loss"] for r in numpy_records])
    assert numpy_loss[-1] < numpy_loss[0]
    np.testing.assert_allclose(keras_loss, numpy_loss, rtol=1e-4)
    final = twin.get_parameters(model)
    assert scratch.weight_norm(final) == pytest.approx(numpy_records[-1]["weight_norm"], rel=1e-4)


def test_masked_dropout_is_the_identity_at_inference_and_checks_its_mask():
    layer = MaskedDropout(np.array([[1, 0, 1]]), keep_prob=0.5)
    ones = np.ones((4, 3), dtype="float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(ones, training=True)), [[2, 0, 2]] * 4
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ones, training=False)), ones)
    with pytest.raises(ParameterError, match="0/1"):
        MaskedDropout(np.array([[0.5, 1]]), keep_prob=0.5)
    with pytest.raises(ParameterError, match="keep_prob"):
        MaskedDropout(np.array([[1, 1]]), keep_prob=0)


def test_build_twin_arguments():
    with pytest.raises(ParameterError, match="number of training examples"):
        twin.build_twin(DIMS, lambd=0.7)
    with pytest.raises(ParameterError, match="one per hidden layer"):
        twin.build_twin(DIMS, keep_prob=0.5, masks=[np.ones((20, 1))])
    model = twin.build_twin(DIMS, keep_prob=0.8)
    dropout = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.rate for layer in dropout] == pytest.approx([0.2, 0.2])
    with pytest.raises(ParameterError, match="2 layers, accepted 3"):
        twin.set_parameters(model, scratch.initialize_parameters([2, 5, 1]))


def test_gradient_gap_against_the_numpy_reference():
    expected = scratch.cost_and_gradients(INIT, X, Y, lambd=0.7)[1]
    set_seed(0)
    gap, largest = twin.gradient_gap(
        twin.build_twin(DIMS, lambd=0.7, m=M, parameters=INIT), X, Y, expected
    )
    assert gap < 1e-6 < largest
    wrong, _ = twin.gradient_gap(twin.build_twin(DIMS, parameters=INIT), X, Y, expected)
    assert wrong > 1e-4  # a model without the L2 term does not compute the L2 cost's gradients


def test_precision_builds_and_trains_float64_models_and_restores_float32():
    twin.build_twin(DIMS)  # a float32 model first: Keras keeps the dtype policy it made for it
    with twin.precision("float64"):
        set_seed(0)
        model = twin.build_twin(DIMS, parameters=INIT)
        records = fit_full_batch(model, DATA.x_train, DATA.y_train, steps=200, record_every=100)
    assert keras.config.floatx() == "float32"
    assert all(str(v.dtype) == "float64" for v in model.trainable_variables)
    assert all(str(v.dtype) == "float32" for v in twin.build_twin(DIMS).trainable_variables)
    _, numpy_records = scratch.train(
        X, Y, num_iterations=200, record_every=100, eval_sets={"train": (X, Y)}
    )
    set_seed(0)
    records_32 = fit_full_batch(
        twin.build_twin(DIMS, parameters=INIT),
        DATA.x_train,
        DATA.y_train,
        steps=200,
        record_every=100,
    )
    reference = np.array([r["train_loss"] for r in numpy_records])

    def gap(rs):
        return np.max(np.abs(np.array([r["train_loss"] for r in rs]) - reference) / reference)

    # float64 is the control: far closer to numpy's float64 run than float32 gets (on JAX too,
    # where float64 needs 64-bit arrays switched on).
    assert gap(records) < 1e-7 and gap(records) < gap(records_32) / 10
    with pytest.raises(ValueError), twin.precision("float64"):
        raise ValueError("the previous precision comes back after an error too")
    assert keras.config.floatx() == "float32"
