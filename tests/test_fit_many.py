"""`training.fit_many` against `fit_full_batch` one model at a time, and `models.BitsDropout`."""

import math

import numpy as np
import pytest

from nnreg_keras import training
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.exceptions import DivergenceError, ParameterError
from nnreg_keras.metrics import categorical_metrics
from nnreg_keras.models import BitsDropout, FixedMaskDropout, fast_masks
from nnreg_keras.training import BACKEND, fit_full_batch, fit_many, keras, set_seed

DATA = make_goalkeeper(n_train=64, n_test=32, seed=1)
EVAL_SETS = {"train": (DATA.x_train, DATA.y_train), "test": (DATA.x_test, DATA.y_test)}
GROUPS = BACKEND in ("jax", "tensorflow")


def mlp(
    seed: int,
    dropout: str = "none",
    optimizer: str = "adam",
    l2: float = 0.0,
    rate: float = 0.5,
    mask_seed: int | None = None,
    metrics: list[str] | None = None,
) -> keras.Model:
    """2-16-16-1 with optional dropout ("keras", "bits", "fixed") at `rate` and L2 on the kernels;
    a fixed mask is drawn with `mask_seed`, by default `seed`. The optimizer: "adam", "sgd" (with
    momentum) or "plain sgd" (no slots); `metrics` are compiled in (built on the first step)."""
    set_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((2,))]
    for _ in range(2):
        layers.append(keras.layers.Dense(16, activation="relu", kernel_regularizer=regularizer))
        if dropout == "keras":
            layers.append(keras.layers.Dropout(rate))
        elif dropout == "bits":
            layers.append(BitsDropout(rate))
        elif dropout == "fixed":
            layers.append(FixedMaskDropout(rate, seed=seed if mask_seed is None else mask_seed))
    model = keras.Sequential(
        layers + [keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=regularizer)]
    )
    opt = {
        "adam": lambda: keras.optimizers.Adam(0.02),
        "sgd": lambda: keras.optimizers.SGD(0.1, 0.9),
        "plain sgd": lambda: keras.optimizers.SGD(0.3),
    }[optimizer]()
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=metrics)
    return model


def state(model: keras.Model) -> list[np.ndarray]:
    """Weights, seed states and optimizer state."""
    return [keras.ops.convert_to_numpy(v.value) for v in training._state(model)]


def one_at_a_time(build, seeds, steps=30, record_every=10):
    models = [build(seed) for seed in seeds]
    records = [
        fit_full_batch(m, DATA.x_train, DATA.y_train, steps, record_every, EVAL_SETS)
        for m in models
    ]
    return models, records


def together(build, seeds, steps=30, record_every=10, **options):
    models = [build(seed) for seed in seeds]
    records = fit_many(
        models, DATA.x_train, DATA.y_train, steps, record_every, EVAL_SETS, **options
    )
    return models, records


BUILDS = {
    "keras dropout, Adam": lambda seed: mlp(seed, "keras"),
    "bits dropout, SGD with momentum": lambda seed: mlp(seed, "bits", "sgd"),
    "no dropout, L2": lambda seed: mlp(seed, l2=0.01),
    # Variables a first step would create (compiled metrics): a compiled loop must carry them.
    "plain SGD, compiled with accuracy": lambda seed: mlp(
        seed, optimizer="plain sgd", metrics=["accuracy"]
    ),
}


@pytest.mark.skipif(BACKEND != "jax", reason="bit-identical on JAX only")
@pytest.mark.parametrize("kind", list(BUILDS))
def test_jax_groups_are_bit_identical_to_one_model_at_a_time(kind):
    seeds = [3, 4, 5]
    alone, alone_records = one_at_a_time(BUILDS[kind], seeds)
    grouped, grouped_records = together(BUILDS[kind], seeds)
    assert grouped_records == alone_records
    for a, b in zip(alone, grouped, strict=True):
        for va, vb in zip(state(a), state(b), strict=True):
            np.testing.assert_array_equal(va, vb)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
@pytest.mark.parametrize("kind", list(BUILDS))
def test_tensorflow_groups_match_one_model_at_a_time(kind):
    """Same masks (each model's own seed state), so only float rounding differs."""
    seeds = [3, 4, 5]
    alone, alone_records = one_at_a_time(BUILDS[kind], seeds)
    grouped, grouped_records = together(BUILDS[kind], seeds)
    for ra, rb in zip(alone_records, grouped_records, strict=True):
        assert [r.keys() for r in ra] == [r.keys() for r in rb]
        for a, b in zip(ra, rb, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    for a, b in zip(alone, grouped, strict=True):
        for va, vb in zip(state(a), state(b), strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=1e-5)


def softmax_mlp(seed: int, rate: float) -> keras.Model:
    """2-16-3 with softmax outputs and fast-mask dropout, as tutorial 05 trains on the digits."""
    set_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(rate),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    return model


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
def test_tensorflow_stacks_softmax_models_and_pads_a_short_last_part(monkeypatch):
    """Classes of softmax outputs train stacked, as each model alone would; five models in parts
    of at most three train as 3 + 2, the second part at size 3 (its last model repeated)."""
    calls = []
    original = training._fit_group_tf
    monkeypatch.setattr(
        training,
        "_fit_group_tf",
        lambda models, *rest: calls.append((len(models), rest[-3])) or original(models, *rest),
    )
    labels = (DATA.x_train[:, 0] > 0).astype("float32") + DATA.y_train  # three classes: 0, 1, 2
    sets = {"train": (DATA.x_train, labels)}
    builds = [lambda s=s, r=r: softmax_mlp(s, r) for s in (3, 4) for r in (0.2, 0.5)]
    builds.append(lambda: softmax_mlp(5, 0.3))
    grouped = [b() for b in builds]
    grouped_records = fit_many(
        grouped, DATA.x_train, labels, 30, 10, sets, categorical_metrics, 3, masks="fast"
    )
    assert calls == [(3, 3), (2, 3)]
    for build, records, model in zip(builds, grouped_records, grouped, strict=True):
        alone = build()
        alone_records = fit_full_batch(
            alone, DATA.x_train, labels, 30, 10, sets, categorical_metrics, masks="fast"
        )
        assert [r.keys() for r in alone_records] == [r.keys() for r in records]
        for a, b in zip(alone_records, records, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
        for va, vb in zip(state(alone), state(model), strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=1e-5)


def narrow_mlp(seed: int, width: int, l2: float = 0.0) -> keras.Model:
    """2-width-width-1, ReLU, L2 on the kernels when l2 > 0."""
    set_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((2,))]
    layers += [keras.layers.Dense(width, "relu", kernel_regularizer=regularizer) for _ in "ab"]
    model = keras.Sequential(layers + [keras.layers.Dense(1, "sigmoid")])
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy")
    return model


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
def test_tensorflow_stacks_networks_of_different_widths_as_each_trains_alone(monkeypatch):
    """Dense networks that differ in hidden width (and L2) train in one stacked model of the
    widest: the narrower ones' extra units stay 0, so each ends as it ends alone."""
    calls = []
    original = training._fit_group_tf
    monkeypatch.setattr(
        training,
        "_fit_group_tf",
        lambda models, *rest: calls.append(rest[-2]) or original(models, *rest),
    )
    builds = [
        lambda w=w, s=s, l2=l2: narrow_mlp(s, w, l2)
        for s in (3, 4)
        for w, l2 in ((1, 0.0), (3, 0.01), (8, 0.0), (16, 0.001))
    ]
    grouped = [b() for b in builds]
    grouped_records = fit_many(grouped, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS)
    assert calls == [((2, 16), (16,), (16, 16), (16,), (16, 1), (1,))]  # one call, the widest
    for build, records, model in zip(builds, grouped_records, grouped, strict=True):
        alone = build()
        alone_records = fit_full_batch(alone, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS)
        for a, b in zip(alone_records, records, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
        assert [v.shape for v in state(model)] == [v.shape for v in state(alone)]
        for va, vb in zip(state(alone), state(model), strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=1e-5)
    sigmoid_hidden = [narrow_mlp(3, w) for w in (4, 8)]
    for model in sigmoid_hidden:
        model.layers[0].activation = keras.activations.sigmoid  # 0.5 at 0: not padded
    assert not training._pads_widths(sigmoid_hidden[0])
    keys = {
        training._group_key(m, DATA.x_train, DATA.y_train[:, None], "keras") for m in sigmoid_hidden
    }
    assert len(keys) == 2


def slotted_mlp(seed: int, width: int, rates: tuple, bits: bool = False, l2: float = 0.0):
    """2-width-width-1 with a dropout layer before each Dense where `rates` has a rate (None: no
    layer; 0: a layer that keeps all): Keras's Dropout, or BitsDropout where `bits`."""
    set_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((2,))]
    for i, rate in enumerate(rates):
        if rate is not None:
            layers.append(BitsDropout(rate) if bits else keras.layers.Dropout(rate))
        units, activation = (width, "relu") if i < 2 else (1, "sigmoid")
        layers.append(keras.layers.Dense(units, activation, kernel_regularizer=regularizer))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy")
    return model


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
def test_tensorflow_stacks_networks_with_and_without_dropout_as_each_trains_alone(monkeypatch):
    """With hashed masks, networks that differ in where they drop, how much, and in width train
    in one stacked model; each model ends as it ends alone, its masks its own."""
    calls = []
    original = training._fit_group_tf
    monkeypatch.setattr(
        training,
        "_fit_group_tf",
        lambda models, *rest: calls.append(rest[-1]) or original(models, *rest),
    )
    settings = [
        (16, (None, None, None), False, 0.0),  # no dropout
        (16, (None, 0.5, 0.5), False, 0.0),  # after each hidden layer
        (16, (0.2, None, None), False, 0.01),  # on the inputs, and L2
        (8, (None, 0.3, None), True, 0.0),  # BitsDropout after the first, narrower
        (4, (None, 0.0, 0.0), False, 0.001),  # layers that keep all, narrower
    ]
    builds = [lambda s=s, a=a: slotted_mlp(s, *a) for s in (3, 4) for a in settings]
    grouped = [b() for b in builds]
    records = fit_many(grouped, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS, masks="fast")
    assert calls == [(0, 1, 2)]  # one call; masks drawn before each of the three Dense layers
    for build, found, model in zip(builds, records, grouped, strict=True):
        alone = build()
        expected = fit_full_batch(
            alone, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS, masks="fast"
        )
        for a, b in zip(expected, found, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
        for va, vb in zip(state(alone), state(model), strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=1e-5)
    assert records[1] != records[6]  # another seed, other masks and weights


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
def test_a_smaller_group_trains_at_a_size_traced_before():
    """Five models, then three of the same architecture: the three train in the stacked model
    of five (two places filled), not in a new one; nine would not (more than twice over)."""
    training._STACKED.clear()
    fit_many([mlp(s, l2=0.01) for s in range(5)], DATA.x_train, DATA.y_train, 20, 10, EVAL_SETS)
    assert [key[1] for key in training._STACKED] == [5]
    three = [mlp(s, l2=0.001) for s in (7, 8, 9)]
    records = fit_many(three, DATA.x_train, DATA.y_train, 20, 10, EVAL_SETS)
    assert [key[1] for key in training._STACKED] == [5]
    alone = fit_full_batch(mlp(9, l2=0.001), DATA.x_train, DATA.y_train, 20, 10, EVAL_SETS)
    for a, b in zip(alone, records[2], strict=True):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    assert training._traced_size(next(iter(training._STACKED))[0], (), 2, 16) == 2  # no layout
    fit_many([mlp(s) for s in range(2)], DATA.x_train, DATA.y_train, 20, 10, EVAL_SETS)
    assert sorted(key[1] for key in training._STACKED) == [2, 5]  # 5 is more than twice 2


STRENGTHS = {
    "L2 strengths and none": [lambda s, l2=l2: mlp(s, l2=l2) for l2 in (0.0, 0.003, 0.03)],
    "BitsDropout rates": [lambda s, r=r: mlp(s, "bits", rate=r) for r in (0.2, 0.5, 0.8)],
    "fixed masks": [lambda s, m=m: mlp(s, "fixed", mask_seed=m) for m in (10, 11, 12)],
}


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
@pytest.mark.parametrize("kind", list(STRENGTHS))
def test_tensorflow_stacks_models_that_differ_in_strength_or_fixed_mask(kind, monkeypatch):
    """The stacked model reads L2 strengths, BitsDropout rates and fixed masks per model: one
    group, traced once, trains what each model trains alone."""
    builds = [lambda b=b, s=s: b(s) for s in (3, 4) for b in STRENGTHS[kind]]
    calls = []
    original = training._fit_group_tf
    monkeypatch.setattr(
        training,
        "_fit_group_tf",
        lambda models, *rest: calls.append(len(models)) or original(models, *rest),
    )
    grouped = [b() for b in builds]
    grouped_records = fit_many(grouped, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS)
    assert calls == [len(builds)]
    alone = [b() for b in builds]
    for model, records in zip(alone, grouped_records, strict=True):
        for a, b in zip(
            fit_full_batch(model, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS),
            records,
            strict=True,
        ):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    for a, b in zip(alone, grouped, strict=True):
        for va, vb in zip(state(a), state(b), strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=1e-5)
    assert grouped_records[0] != grouped_records[1]  # same seed: the strengths (or masks) differ


def test_even_parts_share_one_size():
    assert [len(p) for p in training._even_parts(list(range(60)), 16)] == [15, 15, 15, 15]
    assert [len(p) for p in training._even_parts(list(range(17)), 16)] == [9, 8]
    assert training._even_parts([4, 7], 16) == [[4, 7]]
    assert sum(training._even_parts(list(range(33)), 16), []) == list(range(33))


@pytest.mark.skipif(not GROUPS, reason="groups train on TensorFlow and JAX")
@pytest.mark.parametrize("dropout", ["keras", "bits"])
def test_same_seeds_same_records_with_dropout(dropout):
    runs = [together(lambda seed: mlp(seed, dropout), [1, 2, 3, 4])[1] for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]  # different seeds, different models


def test_records_come_back_in_input_order_and_format():
    """Two architectures interleaved, a group cap of 2, and one model that groups with none."""
    builds = [
        lambda: mlp(0, "keras"),
        lambda: mlp(1),
        lambda: mlp(2, "keras"),
        lambda: mlp(3, "fixed"),
        lambda: mlp(4, "keras"),
        lambda: mlp(5),
    ]
    grouped = fit_many([b() for b in builds], DATA.x_train, DATA.y_train, 20, 10, group_size=2)
    alone = [fit_full_batch(b(), DATA.x_train, DATA.y_train, 20, 10) for b in builds]
    assert len(grouped) == len(builds)
    for ra, rb in zip(alone, grouped, strict=True):
        assert [r["step"] for r in rb] == [10, 20]
        assert set(rb[0]) == {"step", "fit_loss", "train_loss", "train_accuracy"}
        for a, b in zip(ra, rb, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)


def test_a_diverging_model_is_named_and_the_others_finish():
    """Same architecture, so one group; model 2 starts with exploded weights."""
    models = [mlp(seed) for seed in (1, 2, 3)]
    models[1].set_weights([1e4 * w for w in models[1].get_weights()])
    before = models[1].get_weights()
    with pytest.raises(DivergenceError, match="1 of 3 models") as caught:
        fit_many(models, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS)
    assert f"model {models[1].name!r}" in str(caught.value)
    records = caught.value.records
    assert [len(r) for r in records] == [3, 1, 3]
    _, healthy = one_at_a_time(lambda seed: mlp(seed), [1, 3])
    for a, b in zip(healthy, [records[0], records[2]], strict=True):
        for ra, rb in zip(a, b, strict=True):
            assert ra == pytest.approx(rb, rel=1e-4, abs=1e-5)
    for a, b in zip(before, models[1].get_weights(), strict=True):  # left as before training
        np.testing.assert_array_equal(a, b)


def test_when_every_model_diverges_one_line_says_so_with_the_first_cause():
    models = [mlp(seed) for seed in (1, 2, 3)]
    for model in models:
        model.set_weights([1e4 * w for w in model.get_weights()])
    with pytest.raises(DivergenceError) as caught:
        fit_many(models, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS)
    message = str(caught.value)
    assert message.startswith("training diverged for all 3 models; the first: ")
    assert "\n" not in message and f"model {models[0].name!r}" in message
    assert models[1].name not in message and models[2].name not in message


def test_same_model_twice_and_bad_counts():
    model = mlp(0)
    with pytest.raises(ValueError, match="the same model twice"):
        fit_many([model, model], DATA.x_train, DATA.y_train, 10, 10)
    with pytest.raises(ValueError, match="multiple of record_every"):
        fit_many([mlp(1)], DATA.x_train, DATA.y_train, 25, 10)
    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="plain")
    with pytest.raises(ValueError, match="model 'plain' is not compiled"):
        fit_many([mlp(2), uncompiled], DATA.x_train, DATA.y_train, 10, 10)


# BitsDropout


def draw(layer: BitsDropout, x: np.ndarray, training: bool = True) -> np.ndarray:
    return keras.ops.convert_to_numpy(layer(x, training=training))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_bits_dropout_keeps_one_minus_rate(rate):
    set_seed(0)
    layer = BitsDropout(rate, seed=7)
    kept = draw(layer, np.ones((400, 250), "float32")) != 0
    n, keep = kept.size, 1 - rate
    assert abs(kept.mean() - keep) < 4 * math.sqrt(keep * rate / n)  # four standard errors


def test_bits_dropout_masks_differ_between_steps_and_examples():
    set_seed(0)
    layer = BitsDropout(0.5, seed=1)
    x = np.ones((8, 64), "float32")
    first, second = draw(layer, x), draw(layer, x)
    assert not np.array_equal(first, second)
    assert len({row.tobytes() for row in first}) == len(first)


def test_bits_dropout_scaling_and_inference():
    set_seed(0)
    layer = BitsDropout(0.3, seed=2)
    x = np.random.default_rng(0).normal(size=(50, 40)).astype("float32")
    out = draw(layer, x)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept] * np.float32(1 / 0.7))
    np.testing.assert_array_equal(draw(layer, x, training=False), x)
    np.testing.assert_array_equal(draw(BitsDropout(0.0), x), x)


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", True])
def test_bits_dropout_bad_rate(rate):
    with pytest.raises(ParameterError, match=r"rate must be a dropout rate in \[0, 1\)"):
        BitsDropout(rate)


def test_bits_dropout_is_a_keras_dropout_layer_that_saves_and_loads():
    layer = BitsDropout(0.25, seed=5)
    assert isinstance(layer, keras.layers.Dropout)
    config = layer.get_config()
    assert (config["rate"], config["seed"], config["noise_shape"]) == (0.25, 5, None)
    again = BitsDropout.from_config(config)
    x = np.ones((6, 10), "float32")
    np.testing.assert_array_equal(draw(again, x), draw(BitsDropout(0.25, seed=5), x))
    with pytest.raises(ParameterError, match=r"noise_shape = \(None, 1\): accepted None"):
        BitsDropout(0.5, noise_shape=(None, 1))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="eager calls compile the mask on TensorFlow")
def test_bits_dropout_draws_the_same_masks_eagerly_and_in_a_traced_step():
    import tensorflow as tf

    x = np.ones((30, 20), "float32")
    eager, traced = BitsDropout(0.9, seed=4), BitsDropout(0.9, seed=4)
    step = tf.function(lambda inputs: traced(inputs, training=True))
    for _ in range(2):  # the seed state advances alike
        np.testing.assert_array_equal(draw(eager, x), step(x).numpy())


def test_bits_dropout_models_share_a_runner_and_train_like_keras_fit():
    """The seed lives in a variable: two seeds, one signature; `fit_full_batch` equals `fit`."""
    x, y = DATA.x_train.astype("float32"), DATA.y_train.astype("float32").reshape(-1, 1)
    assert training._signature(mlp(1, "bits"), x, y) == training._signature(mlp(2, "bits"), x, y)
    fast, plain = mlp(4, "bits"), mlp(4, "bits")
    fit_full_batch(fast, x, y, steps=20, record_every=20)
    plain.fit(x, y, batch_size=len(x), epochs=20, shuffle=False, verbose=0)
    for a, b in zip(fast.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def per_seed_data(seed: int):
    data = make_goalkeeper(n_train=64, n_test=32, seed=seed)
    return data.x_train, data.y_train, {"test": (data.x_test, data.y_test)}


@pytest.mark.parametrize("kind", ["keras dropout, Adam", "no dropout, L2"])
def test_each_model_can_train_on_its_own_data(kind):
    """One data draw per seed, passed as lists: as if each model were trained alone on its own."""
    seeds = [3, 4, 5]
    draws = [per_seed_data(seed) for seed in seeds]
    alone = [BUILDS[kind](seed) for seed in seeds]
    alone_records = [
        fit_full_batch(m, x, y, 30, 10, sets) for m, (x, y, sets) in zip(alone, draws, strict=True)
    ]
    grouped = [BUILDS[kind](seed) for seed in seeds]
    xs, ys, sets = (list(part) for part in zip(*draws, strict=True))
    grouped_records = fit_many(grouped, xs, ys, 30, 10, sets)
    for ra, rb in zip(alone_records, grouped_records, strict=True):
        if BACKEND == "jax":
            assert ra == rb
        else:
            assert [set(r) for r in ra] == [set(r) for r in rb]
            for a, b in zip(ra, rb, strict=True):
                assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    with pytest.raises(
        ValueError, match="x: give one value shared by all 3 models, or a list of 3"
    ):
        fit_many(grouped, xs[:2], ys, 30, 10, sets)


# masks="keras" | "fast": Keras's own Dropout in the grouped path.


def lesson_model(seed: int, rate: float = 0.3, l2: float = 1e-3) -> keras.Model:
    """A lesson's model: 2-64-64-1 with keras.layers.Dropout after each hidden layer, L2, Adam."""
    set_seed(seed)
    penalty = keras.regularizers.L2(l2)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=penalty),
            keras.layers.Dropout(rate),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=penalty),
            keras.layers.Dropout(rate),
            keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=penalty),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def assert_same_state(a: keras.Model, b: keras.Model, exact: bool = False) -> None:
    for va, vb in zip(state(a), state(b), strict=True):
        if exact:
            np.testing.assert_array_equal(va, vb)
        else:
            np.testing.assert_allclose(va, vb, rtol=1e-4, atol=2e-5)


LESSON_SEEDS = [0, 1, 2]


@pytest.mark.skipif(not GROUPS, reason="groups train on TensorFlow and JAX")
def test_keras_masks_give_what_model_fit_gives():
    """fit_many's default masks are Keras's: each model ends as model.fit leaves it."""
    x, y = DATA.x_train.astype("float32"), DATA.y_train.astype("float32").reshape(-1, 1)
    grouped = [lesson_model(seed) for seed in LESSON_SEEDS]
    fit_many(grouped, x, y, 40, 20, masks="keras")
    for seed, model in zip(LESSON_SEEDS, grouped, strict=True):
        plain = lesson_model(seed)
        plain.fit(x, y, batch_size=len(x), epochs=40, shuffle=False, verbose=0)
        assert_same_state(model, plain)


def test_keras_masks_one_model_gives_what_model_fit_gives():
    """The path of a model trained alone (fit_full_batch, and a group of one) equals model.fit."""
    x, y = DATA.x_train.astype("float32"), DATA.y_train.astype("float32").reshape(-1, 1)
    alone, single = lesson_model(5), lesson_model(5)
    fit_full_batch(alone, x, y, 40, 20)
    fit_many([single], x, y, 40, 20)
    plain = lesson_model(5)
    history = plain.fit(x, y, batch_size=len(x), epochs=40, shuffle=False, verbose=0)
    assert_same_state(alone, plain)
    assert_same_state(single, plain)
    assert history.history["loss"][-1] == pytest.approx(
        fit_full_batch(lesson_model(5), x, y, 40, 1)[-1]["fit_loss"], rel=1e-4
    )


def test_masks_must_be_named():
    model = lesson_model(0)
    for train in (fit_many, fit_full_batch):
        target = [model] if train is fit_many else model
        with pytest.raises(ValueError, match="masks = 'quick': accepted \"keras\""):
            train(target, DATA.x_train, DATA.y_train, 10, 10, masks="quick")


@pytest.mark.skipif(not GROUPS, reason="hashed masks on TensorFlow and JAX")
def test_fast_masks_group_equals_each_model_alone():
    """masks="fast": a group trains what each model trains alone with fast masks (on JAX bit for
    bit; on TensorFlow the stacked model rounds differently), and other numbers than Keras's."""
    grouped = [lesson_model(seed) for seed in LESSON_SEEDS]
    grouped_records = fit_many(grouped, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS, masks="fast")
    for seed, model, records in zip(LESSON_SEEDS, grouped, grouped_records, strict=True):
        alone = lesson_model(seed)
        alone_records = fit_full_batch(
            alone, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS, masks="fast"
        )
        if BACKEND == "jax":
            assert alone_records == records
            assert_same_state(alone, model, exact=True)
        else:
            for a, b in zip(alone_records, records, strict=True):
                assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
            assert_same_state(alone, model)
        own_step = lesson_model(seed)  # a model that traces its own step draws the same masks
        own = fit_full_batch(
            own_step, DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS, reuse=False, masks="fast"
        )
        for a, b in zip(own, alone_records, strict=True):
            assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
        assert type(own_step.layers[1].call).__name__ == "method"  # Keras's masks again after
    keras_records = fit_many(
        [lesson_model(seed) for seed in LESSON_SEEDS], DATA.x_train, DATA.y_train, 30, 10, EVAL_SETS
    )
    assert keras_records[0][-1]["fit_loss"] != grouped_records[0][-1]["fit_loss"]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the stacked model runs on TensorFlow")
def test_fast_masks_sweep_over_keras_dropout_rates_is_one_group(monkeypatch):
    calls = []
    original = training._fit_group_tf
    monkeypatch.setattr(
        training,
        "_fit_group_tf",
        lambda models, *rest: calls.append(len(models)) or original(models, *rest),
    )
    rates = [0.1, 0.3, 0.5, 0.7]
    models = [lesson_model(1, rate=rate) for rate in rates]
    records = fit_many(models, DATA.x_train, DATA.y_train, 20, 10, masks="fast")
    assert calls == [4]
    for rate, model, grouped in zip(rates, models, records, strict=True):
        alone = lesson_model(1, rate=rate)
        alone_records = fit_full_batch(alone, DATA.x_train, DATA.y_train, 20, 10, masks="fast")
        for a, b in zip(alone_records, grouped, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
        assert_same_state(alone, model)


def fast_draw(layer: keras.layers.Dropout, x: np.ndarray) -> np.ndarray:
    with fast_masks(layer):
        return keras.ops.convert_to_numpy(layer(x, training=True))


def binomial_ok(count: float, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.skipif(not GROUPS, reason="hashed masks on TensorFlow and JAX")
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.8])
def test_fast_masks_keep_one_minus_rate_and_scale_like_keras(rate):
    x = np.ones((400, 50), "float32")
    layer = keras.layers.Dropout(rate, seed=7)
    out = fast_draw(layer, x)
    kept = out != 0
    assert binomial_ok(kept.sum(), kept.size, 1 - rate)
    np.testing.assert_allclose(out[kept], 1 / (1 - rate), rtol=1e-6)  # inverted scaling
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    with fast_masks(layer):  # identity at inference, also with fast masks
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    keras_out = keras.ops.convert_to_numpy(keras.layers.Dropout(rate, seed=7)(x, training=True))
    assert binomial_ok((keras_out != 0).sum(), kept.size, 1 - rate)


def pair_agreement(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """How many units both masks keep, out of how many units."""
    return int(((a != 0) & (b != 0)).sum()), a.size


@pytest.mark.skipif(not GROUPS, reason="hashed masks on TensorFlow and JAX")
def test_fast_masks_are_independent_across_steps_units_examples_layers_and_models():
    p = 0.5
    x = np.ones((300, 40), "float32")

    def layer(seed):
        set_seed(seed)
        return keras.layers.Dropout(1 - p)

    first = layer(1)
    step1, step2 = fast_draw(first, x), fast_draw(first, x)
    other_seed = fast_draw(layer(2), x)
    # the two layers of one model draw their seeds one after the other from the same stream
    set_seed(3)
    model = keras.Sequential(
        [keras.Input((40,)), keras.layers.Dropout(0.5), keras.layers.Dropout(0.5)]
    )
    with fast_masks(model):
        one = keras.ops.convert_to_numpy(model.layers[0](x, training=True))
        two = keras.ops.convert_to_numpy(model.layers[1](x, training=True))
    for a, b in [(step1, step2), (step1, other_seed), (one, two)]:
        both, n = pair_agreement(a, b)
        assert binomial_ok(both, n, p * p), (both, n)
    kept = (step1 != 0).astype("float64")
    for matrix in (kept, kept.T):  # units (columns) and examples (rows)
        correlation = np.corrcoef(matrix, rowvar=False)
        off = correlation[~np.eye(len(correlation), dtype=bool)]
        assert np.abs(off).max() < 6 / math.sqrt(len(matrix)), np.abs(off).max()
    # determinism: the same seed draws the same masks, step after step
    again = layer(1)
    np.testing.assert_array_equal(fast_draw(again, x), step1)
    np.testing.assert_array_equal(fast_draw(again, x), step2)


@pytest.mark.skipif(not GROUPS, reason="hashed masks on TensorFlow and JAX")
def test_fast_masks_draw_what_bits_dropout_draws_and_restore_keras_masks():
    x = np.ones((20, 30), "float32")
    fast, bits = keras.layers.Dropout(0.4, seed=11), BitsDropout(0.4, seed=11)
    np.testing.assert_array_equal(fast_draw(fast, x), draw(bits, x))
    assert "call" not in fast.__dict__  # Keras's own call again after the block
    shared = keras.layers.Dropout(0.5, noise_shape=(None, 1), seed=2)
    out = fast_draw(shared, x)
    assert all(len(set(row)) == 1 for row in out)  # one mask entry per example, as noise_shape asks
    assert 0 < (out[:, 0] != 0).sum() < len(out)
    np.testing.assert_array_equal(fast_draw(keras.layers.Dropout(1.0), x), np.zeros_like(x))


@pytest.mark.skipif(BACKEND != "jax", reason="bit-identical on JAX only")
@pytest.mark.parametrize("masks", ["keras", "fast"])
def test_jax_groups_are_bit_identical_with_three_inputs_and_an_output_penalty(masks):
    """3-24-1, Dropout(0.3), L2 on the output kernel, 60 steps: products of three inputs, which
    XLA rounds differently when the models are batched (jax.vmap); one after another they are not."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")

    def build(seed):
        set_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((3,)),
                keras.layers.Dense(24, activation="relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(
                    1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(1e-3)
                ),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        return model

    grouped = [build(seed) for seed in range(4)]
    grouped_records = fit_many(grouped, x, y, 60, 20, masks=masks)
    for seed, model, records in zip(range(4), grouped, grouped_records, strict=True):
        alone = build(seed)
        assert fit_full_batch(alone, x, y, 60, 20, masks=masks) == records
        assert_same_state(alone, model, exact=True)


# predict_many


@pytest.mark.parametrize("masks", ["keras", "fast"])
def test_predict_many_gives_what_predict_gives(masks, monkeypatch):
    """One compiled call per architecture; in training mode each model draws its own masks and its
    seed state advances as its own call's would, pass after pass."""
    calls = []
    original = training._predict_group
    monkeypatch.setattr(
        training,
        "_predict_group",
        lambda key, ms, xs: calls.append(len(ms)) or original(key, ms, xs),
    )
    x = DATA.x_test.astype("float32")
    builds = [lambda s=s: lesson_model(s) for s in range(4)] + [lambda: mlp(9, "bits")]
    many, one = [b() for b in builds], [b() for b in builds]
    for mode in (False, True, True):
        found = training.predict_many(many, x, training=mode, masks=masks)
        for model, values in zip(one, found, strict=True):
            if masks == "fast" and training._mask_draw(model, masks) == "fast":
                with fast_masks(model):
                    expected = training.predict(model, x, training=mode)
            else:
                expected = training.predict(model, x, training=mode)
            assert values.shape == (len(x), 1)
            np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)
    assert calls == ([4, 4, 4] if GROUPS else [])
    drawn = [training.predict_many(many[:2], x, training=True)[0] for _ in range(2)]
    assert not np.array_equal(*drawn)  # each pass draws new masks
    per_model = training.predict_many(many[:2], [x, x[::-1]])
    np.testing.assert_allclose(
        per_model[1], training.predict(many[1], x[::-1]), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="x: give one value shared by all 2 models"):
        training.predict_many(many[:2], [x])
