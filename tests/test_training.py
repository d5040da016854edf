import numpy as np
import pytest

from nnreg_keras.data import make_goalkeeper
from nnreg_keras.training import fit_full_batch, keras, predict, set_seed

DATA = make_goalkeeper(n_train=64, n_test=32, seed=1)


def small_model(seed: int, rate: float = 0.0) -> keras.Model:
    set_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(rate), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return model


def test_records_hold_steps_and_metrics_of_each_set():
    records = fit_full_batch(small_model(0), DATA.x_train, DATA.y_train, steps=40, record_every=10,
                             eval_sets={"train": (DATA.x_train, DATA.y_train), "test": (DATA.x_test, DATA.y_test)})
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert set(records[0]) == {"step", "fit_loss", "train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    assert records[-1]["train_loss"] < records[0]["train_loss"]


def test_chunking_does_not_change_the_training():
    a, b = small_model(3), small_model(3)
    fit_full_batch(a, DATA.x_train, DATA.y_train, steps=60, record_every=60)
    fit_full_batch(b, DATA.x_train, DATA.y_train, steps=60, record_every=5)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_same_as_plain_full_batch_fit():
    fast, plain = small_model(4), small_model(4)
    fit_full_batch(fast, DATA.x_train, DATA.y_train, steps=20, record_every=20)
    plain.fit(DATA.x_train, DATA.y_train, batch_size=len(DATA.x_train), epochs=20, shuffle=False, verbose=0)
    for wa, wb in zip(fast.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_with_dropout():
    runs = []
    for _ in range(2):
        model = small_model(7, rate=0.5)
        fit_full_batch(model, DATA.x_train, DATA.y_train, steps=30, record_every=10)
        runs.append(model.get_weights())
    for wa, wb in zip(*runs, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_bad_step_counts():
    with pytest.raises(ValueError, match="multiple of record_every"):
        fit_full_batch(small_model(0), DATA.x_train, DATA.y_train, steps=25, record_every=10)
    with pytest.raises(ValueError, match="must be positive"):
        fit_full_batch(small_model(0), DATA.x_train, DATA.y_train, steps=0)


def test_predict_modes():
    model = small_model(0, rate=0.5)
    assert np.array_equal(predict(model, DATA.x_test), predict(model, DATA.x_test))
    assert not np.array_equal(predict(model, DATA.x_test, training=True), predict(model, DATA.x_test, training=True))
