import numpy as np
import pytest

from nnreg_keras import subnetworks
from nnreg_keras.data import goalkeeper_boundary, make_goalkeeper, splits
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.models import FixedMaskDropout
from nnreg_keras.training import keras, set_seed


def small_model(dropout: keras.layers.Layer) -> keras.Model:
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu"),
            dropout,
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def test_splits_hold_out_a_validation_set_before_the_test_set():
    data = make_goalkeeper(n_train=20, n_test=30, seed=0)
    split = splits(data, n_val=10)
    assert list(split) == ["train", "validation", "test"]
    assert [len(y) for _, y in split.values()] == [20, 10, 20]
    assert np.array_equal(split["test"][0], data.x_test[10:])
    with pytest.raises(ParameterError, match="'n_val' = 30"):
        splits(data, n_val=30)


def test_sweep_widths_adds_the_wide_and_the_kept_width():
    assert subnetworks.sweep_widths([4, 16], width=64, rate=0.5) == ([4, 16, 32, 64], 32)
    assert subnetworks.sweep_widths([64, 8], width=64, rate=0.25) == ([8, 48, 64], 48)
    for bad in ([], [4, 0], [4.0], "4"):
        with pytest.raises(ParameterError, match="'widths'.*positive integers"):
            subnetworks.sweep_widths(bad, width=64, rate=0.5)


def test_best_width_takes_the_highest_mean_below_the_wide_width():
    scores = {16: [0.75, 0.5], 4: [0.5, 0.75], 8: [0.5, 0.5], 64: [1.0, 1.0]}
    assert subnetworks.best_width(scores, below=64) == 4  # 4 and 16 tie: the smaller wins
    scores[16] = [0.75, 0.75]
    assert subnetworks.best_width(scores, below=64) == 16
    assert subnetworks.best_width(scores, below=10) == 4
    with pytest.raises(ParameterError, match="no width below"):
        subnetworks.best_width(scores, below=4)


def test_mc_grid_holds_half_and_largest_k():
    assert subnetworks.mc_grid(100) == [1, 2, 5, 10, 20, 50, 100]
    assert subnetworks.mc_grid(50) == [1, 2, 5, 10, 20, 25, 50]
    assert subnetworks.mc_grid(1) == [1]


def test_crossing_finds_first_match_and_where_it_stays():
    acc = np.array([0.80, 0.85, 0.84, 0.86, 0.86])
    assert subnetworks.crossing(acc, 0.85) == (2, 4)
    assert subnetworks.crossing(acc, 0.80) == (1, 1)
    assert subnetworks.crossing(acc, 0.90) == (None, None)
    assert subnetworks.crossing(np.array([0.9, 0.8]), 0.85) == (1, None)


def test_mc_dropout_curve_without_dropout_has_no_gap():
    model = small_model(keras.layers.Dropout(0.0))
    x = np.random.default_rng(0).normal(size=(30, 2)).astype("float32")
    curve = subnetworks.mc_dropout_curve(model, x, (x[:, 0] > 0).astype("float32"), k_max=4)
    assert curve["mc_gap"] == pytest.approx(np.zeros(4), abs=1e-6)
    assert curve["noise_gap"] == pytest.approx(np.zeros(4), abs=1e-6)
    assert list(curve["mc_accuracy"]) == [curve["inference_accuracy"]] * 4


def test_mc_dropout_curve_noise_shrinks_by_root_two_per_doubling():
    model = small_model(keras.layers.Dropout(0.5))
    x = np.random.default_rng(1).normal(size=(200, 2)).astype("float32")
    curve = subnetworks.mc_dropout_curve(model, x, (x[:, 0] > 0).astype("float32"), k_max=8)
    assert curve["noise_gap"][7] / curve["noise_gap"][3] == pytest.approx(2**-0.5)
    assert curve["mc_gap"][0] > curve["mc_gap"][7] > 0  # averaging brings the passes closer


def test_fit_and_count_sees_a_fixed_mask_leave_weights_untouched():
    data = make_goalkeeper(n_train=40, n_test=20, seed=2)
    split = splits(data, n_val=10)
    counts = {}
    for name, layer in (
        ("fixed", FixedMaskDropout(0.5, seed=1)),
        ("dropout", keras.layers.Dropout(0.5)),
    ):
        counts[name] = subnetworks.fit_and_count(
            small_model(layer), split, steps=20, record_every=10
        )
    for run in counts.values():
        assert run["params_before"] == run["params_after"] == 8 * 2 + 8 + 8 + 1
        assert set(run["final"]) >= {"train_accuracy", "validation_accuracy", "test_accuracy"}
    assert counts["dropout"]["changed"] == counts["dropout"]["params_before"]
    assert (
        counts["fixed"]["changed"] == 4 * 2 + 4 + 4 + 1
    )  # the 4 kept units' weights and the output bias


def test_boundary_accuracy_counts_flipped_labels():
    x = np.random.default_rng(3).uniform(-0.75, 0.75, size=(50, 2))
    clean = (x[:, 1] > goalkeeper_boundary(x[:, 0])).astype("float32")
    assert subnetworks.boundary_accuracy(x, clean) == 1.0
    clean[:5] = 1 - clean[:5]
    assert subnetworks.boundary_accuracy(x, clean) == pytest.approx(0.9)
