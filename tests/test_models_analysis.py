import numpy as np
import pytest

from nnreg_keras import formatting, metrics, plots
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.models import FixedMaskDropout
from nnreg_keras.training import fit_full_batch, keras, set_seed


def test_fixed_mask_keeps_the_same_units_in_training_and_inference():
    layer = FixedMaskDropout(0.25, seed=3)
    ones = np.ones((5, 40), dtype="float32")
    train = keras.ops.convert_to_numpy(layer(ones, training=True))
    assert np.array_equal(train, keras.ops.convert_to_numpy(layer(ones, training=False)))
    assert np.all((train == 0) | np.isclose(train, 1 / 0.75))
    assert np.count_nonzero(train[0]) == 30  # exactly (1 - rate) * units kept
    assert (train > 0).all(axis=0).sum() == 30  # the same units for every example
    assert layer.count_params() == 0


def test_fixed_mask_rejects_bad_rate():
    with pytest.raises(ValueError, match=r"rate must be a dropout rate in \[0, 1\) .*got 1.0"):
        FixedMaskDropout(1.0)


def test_dropped_units_keep_their_initial_weights():
    data = make_goalkeeper(n_train=50, n_test=10)
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu"),
            FixedMaskDropout(0.5, seed=1),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    before = metrics.weights_snapshot(model)
    fit_full_batch(model, data.x_train, data.y_train, steps=20, record_every=10)
    after = metrics.weights_snapshot(model)
    dropped = keras.ops.convert_to_numpy(model.layers[1].mask) == 0
    np.testing.assert_array_equal(before[0][:, dropped], after[0][:, dropped])  # kernel columns
    np.testing.assert_array_equal(before[2][dropped], after[2][dropped])  # next layer's rows
    assert metrics.changed_parameters(before, after) <= sum(w.size for w in before) - 4 * 2 - 4 - 4


def test_changed_parameters_counts_exact_differences():
    a = [np.zeros((2, 3)), np.zeros(3)]
    b = [np.zeros((2, 3)), np.array([0.0, 1e-12, 2.0])]
    assert metrics.changed_parameters(a, b) == 2
    with pytest.raises(ValueError, match="different architectures"):
        metrics.changed_parameters(a, [np.zeros(3)])


def test_mean_sd_and_average_records():
    assert formatting.mean_sd([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
    assert formatting.mean_sd([5.0]) == (5.0, 0.0)
    assert formatting.mean_sd_text([0.5, 0.7], digits=2) == "0.60 ± 0.14"
    runs = [[{"step": 1, "loss": 1.0}], [{"step": 1, "loss": 3.0}]]
    assert metrics.average_records(runs) == [{"step": 1.0, "loss": 2.0}]
    with pytest.raises(ValueError, match="different steps"):
        metrics.average_records([[{"step": 1}], [{"step": 2}]])


def test_grid_covers_the_inputs():
    xx, yy, points = plots.grid(np.array([[0.0, 1.0], [2.0, 3.0]]), steps=5, margin=0.0)
    assert xx.shape == (5, 5) and points.shape == (25, 2)
    assert points.min(axis=0).tolist() == [0.0, 1.0] and points.max(axis=0).tolist() == [2.0, 3.0]


def test_agreement_steps_and_relative_gaps():
    run = [{"step": s, "train_loss": 1.0} for s in (10, 20, 30)]
    drifting = [
        {"step": 10, "train_loss": 1.0005},
        {"step": 20, "train_loss": 1.002},
        {"step": 30, "train_loss": 1.0},
    ]
    np.testing.assert_allclose(metrics.relative_gaps(run, drifting), [5e-4, 2e-3, 0], atol=1e-12)
    assert (
        metrics.agreement_steps(run, drifting) == 10
    )  # parts at step 20, even though step 30 agrees again
    assert metrics.agreement_steps(run, run) == 30
    assert metrics.agreement_steps(run, [dict(r, train_loss=2.0) for r in run]) == 0
    with pytest.raises(ValueError, match="different steps"):
        metrics.agreement_steps(run, [dict(r, step=r["step"] + 1) for r in run])
