import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnreg_keras import training
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.models import FixedMaskDropout
from nnreg_keras.training import fit_full_batch, keras, predict, set_seed

DATA = make_goalkeeper(n_train=64, n_test=32, seed=1)


def small_model(seed: int, rate: float = 0.0) -> keras.Model:
    set_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(rate),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return model


def test_records_hold_steps_and_metrics_of_each_set():
    records = fit_full_batch(
        small_model(0),
        DATA.x_train,
        DATA.y_train,
        steps=40,
        record_every=10,
        eval_sets={"train": (DATA.x_train, DATA.y_train), "test": (DATA.x_test, DATA.y_test)},
    )
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert set(records[0]) == {
        "step",
        "fit_loss",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    }
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
    plain.fit(
        DATA.x_train,
        DATA.y_train,
        batch_size=len(DATA.x_train),
        epochs=20,
        shuffle=False,
        verbose=0,
    )
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


def test_an_uncompiled_model_is_named():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="plain")
    with pytest.raises(ValueError, match="model 'plain' is not compiled"):
        fit_full_batch(model, DATA.x_train, DATA.y_train, steps=10)


def test_predict_modes():
    model = small_model(0, rate=0.5)
    assert np.array_equal(predict(model, DATA.x_test), predict(model, DATA.x_test))
    assert not np.array_equal(
        predict(model, DATA.x_test, training=True), predict(model, DATA.x_test, training=True)
    )


def sweep_model(kind: str, seed: int) -> keras.Model:
    """Models of one architecture per kind; what differs between seeds lives in weights and variables."""
    set_seed(seed)
    l2 = keras.regularizers.L2(0.01) if kind == "L2 and Adam with a schedule" else None
    layers = [keras.Input((2,)), keras.layers.Dense(16, activation="relu", kernel_regularizer=l2)]
    if kind == "dropout":
        layers.append(keras.layers.Dropout(0.5))
    if kind == "fixed mask":
        layers.append(FixedMaskDropout(0.5, seed=seed))
    model = keras.Sequential(
        layers + [keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=l2)]
    )
    optimizer = (
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.05, 30))
        if l2 is not None
        else keras.optimizers.SGD(0.1)
    )
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def trained_state(model: keras.Model, reuse: bool) -> tuple[list, list[np.ndarray]]:
    records = fit_full_batch(
        model, DATA.x_train, DATA.y_train, steps=30, record_every=10, reuse=reuse
    )
    variables = (
        model.trainable_variables + model.non_trainable_variables + model.optimizer.variables
    )
    return records, [keras.ops.convert_to_numpy(v.value) for v in variables]


@pytest.mark.parametrize("kind", ["dropout", "L2 and Adam with a schedule", "fixed mask"])
def test_reused_runner_trains_exactly_as_the_model_itself(kind: str):
    runners = []
    for seed in (1, 2):
        reused_records, reused = trained_state(sweep_model(kind, seed), reuse=True)
        runners.append(len(training._RUNNERS))
        own_records, own = trained_state(sweep_model(kind, seed), reuse=False)
        assert reused_records == own_records
        assert len(reused) == len(own)
        for a, b in zip(reused, own, strict=True):  # weights, seed and mask states, optimizer state
            np.testing.assert_array_equal(a, b)
    if (
        kind == "fixed mask"
    ):  # its seed draws the mask, a constant: another seed, another architecture
        assert runners[1] == runners[0] + 1
    else:
        assert runners[0] == runners[1]  # the second seed found the first seed's runner


def test_models_of_different_architectures_get_different_runners():
    a, b = sweep_model("dropout", 0), sweep_model("fixed mask", 0)
    wider = keras.Sequential([keras.Input((2,)), keras.layers.Dense(17), keras.layers.Dense(1)])
    wider.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    sgd_02 = sweep_model("dropout", 0)
    sgd_02.compile(optimizer=keras.optimizers.SGD(0.2), loss="binary_crossentropy")
    x, y = DATA.x_train.astype("float32"), DATA.y_train.astype("float32").reshape(-1, 1)
    signatures = {training._signature(m, x, y) for m in (a, b, wider, sgd_02)}
    assert len(signatures) == 4
    assert training._signature(sweep_model("dropout", 5), x, y) in signatures
    assert training._signature(sweep_model("dropout", 5), x[:10], y[:10]) not in signatures


def test_the_first_model_is_not_the_runner():
    first, second = sweep_model("dropout", 1), sweep_model("dropout", 2)
    fit_full_batch(first, DATA.x_train, DATA.y_train, steps=10, record_every=10)
    kept = [w.copy() for w in first.get_weights()]
    fit_full_batch(second, DATA.x_train, DATA.y_train, steps=10, record_every=10)
    for a, b in zip(kept, first.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_adapted_normalization_models_share_a_runner_each_with_its_own_statistics():
    """An adapted Normalization's statistics are variables the runner reads at each call: models
    standardised by different statistics share one runner (one trace), and each trains as it
    would itself, with its own statistics."""
    found, runners = {}, []
    for scale in (1.0, 100.0):
        for reuse in (True, False):
            set_seed(0)
            normalization = keras.layers.Normalization()
            normalization.adapt(DATA.x_train * scale)
            model = keras.Sequential(
                [keras.Input((2,)), normalization, keras.layers.Dense(1, activation="sigmoid")]
            )
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
            fit_full_batch(
                model, DATA.x_train * scale, DATA.y_train, steps=10, record_every=10, reuse=reuse
            )
            runners.append(len(training._RUNNERS))
            x = DATA.x_test * scale
            found[scale, reuse] = predict(model, x)
            eager = keras.ops.convert_to_numpy(model(x))  # its own constants, from adapt
            np.testing.assert_allclose(found[scale, reuse], eager, rtol=1e-6, atol=1e-7)
    assert runners[2] == runners[0]  # the second scale found the first one's runner
    for scale in (1.0, 100.0):  # through the runner, as trained itself
        np.testing.assert_allclose(found[scale, True], found[scale, False], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(  # standardised: the same
        found[1.0, True], found[100.0, True], rtol=1e-4, atol=1e-5
    )


def dropout_pair(seed: int) -> tuple[keras.Model, keras.Model]:
    """Two identical dropout networks: the same weights and the same seed states."""
    models = []
    for _ in range(2):
        set_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        models.append(model)
    return models[0], models[1]


def test_predict_gives_the_eager_call_and_traces_once_per_architecture():
    x = DATA.x_train.astype("float32")
    exact = keras.backend.backend() == "jax"
    for seed in (0, 1):  # the second model of the architecture reuses the first one's trace
        compiled, eager = dropout_pair(seed)
        for training_mode in (True, True, False, True):
            ours = predict(compiled, x, training=training_mode)
            theirs = keras.ops.convert_to_numpy(eager(x, training=training_mode))
            assert ours.shape == theirs.shape == (len(x), 1)
            # the same masks: a unit dropped in one is dropped in the other
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=0 if exact else 1e-6)
        for a, b in zip(
            compiled.non_trainable_variables, eager.non_trainable_variables, strict=True
        ):
            np.testing.assert_array_equal(a.value, b.value)  # seed states advanced alike
    if keras.backend.backend() in ("jax", "tensorflow"):  # one trace per mode, for both models
        architecture = training._call_key(compiled, x, True)[0]
        assert sorted(k[3] for k in training._CALLERS if k[0] == architecture) == [False, True]
        first_on_fewer, _ = dropout_pair(2)  # its first call's shape is not its architecture
        predict(first_on_fewer, x[:5], training=True)
        assert training._call_key(first_on_fewer, x, True) == training._call_key(compiled, x, True)


def test_predict_calls_a_model_under_fast_masks_eagerly():
    from nnreg_keras.models import fast_masks

    model, _ = dropout_pair(0)
    x = DATA.x_train.astype("float32")
    with fast_masks(model):
        assert training._call_key(model, x, True) is None
        masked = predict(model, x, training=True)
    assert training._call_key(model, x, True) is not None
    assert masked.shape == (len(x), 1) and (masked >= 0).all()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's variables")
def test_tensorflow_variables_keep_their_names_and_values_without_the_debug_name():
    layer = keras.layers.Dense(3, name="named_layer")
    layer.build((None, 2))
    assert layer.kernel.path == "named_layer/kernel"
    assert layer.kernel.value.name == "named_layer/kernel:0"
    layer.kernel.assign(np.ones((2, 3)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(np.ones((1, 2)))), [[2, 2, 2]])


PHASE_PROBE = """
import contextlib, json
from nnreg_keras import training
from nnreg_keras.training import keras

entered = []


@contextlib.contextmanager
def recorded(name):
    entered.append(name)
    yield


training._phase = recorded  # the timed wrappers look it up at each call
dropout = keras.layers.Dropout(0.5, seed=1)  # its seed generator, a variable
counted = {"dropout": entered[:]}
for name, make in {
    "seed generator": lambda: keras.random.SeedGenerator(1),
    "optimizer": lambda: keras.optimizers.Adam(0.01),
    "sequential": lambda: keras.Sequential([keras.Input((3,)), dropout]),
    "dense": lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
}.items():
    entered.clear()
    made = make()
    counted[name] = entered[:]
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5)])
clone = keras.models.clone_model(model)
print(json.dumps({"counted": counted, "build_config": model.get_build_config(),
                  "same_config": clone.get_config() == model.get_config()}))
"""


def test_make_bench_counts_building_a_model_as_build(tmp_path):
    """With NNREG_PHASES set, creating a model's variables counts as "build": a Sequential's build
    on its Input (even with no Dense layer), an optimizer, a seed generator, a Dense layer's
    weights; and the models built so still report their build and clone as before."""
    env = {**os.environ, "NNREG_PHASES": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", PHASE_PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(out.splitlines()[-1])
    assert {name: "build" in seen for name, seen in found["counted"].items()} == {
        "dropout": True,
        "seed generator": True,
        "optimizer": True,
        "sequential": True,
        "dense": True,
    }
    assert found["build_config"] == {"input_shape": [None, 3]}
    assert found["same_config"]
