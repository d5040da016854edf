import numpy as np
import pytest

from nnreg_keras import stats, subnetworks
from nnreg_keras.data import goalkeeper_boundary, make_goalkeeper, splits
from nnreg_keras.exceptions import ParameterError
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
    with pytest.raises(ParameterError, match="no width below"):
        subnetworks.sweep_widths([64], width=1, rate=0.0)


def test_choose_takes_the_lowest_validation_value_seed_by_seed():
    validation = {"a": [0.5, 0.2, 0.3], "b": [0.4, 0.2, 0.6], "c": [0.9, 0.9, 0.1]}
    chosen = subnetworks.choose(validation)
    assert chosen == ["b", "a", "c"]  # seed 1: a and b tie, the first listed wins
    test = {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0], "c": [7.0, 8.0, 9.0]}
    assert list(subnetworks.chosen_values(test, chosen)) == [4.0, 2.0, 9.0]
    with pytest.raises(ParameterError, match="no candidate"):
        subnetworks.choose({})


def test_labels_name_both_conventions_and_count_the_choices():
    assert subnetworks.setting_label((128, "plain", 0.0), 200) == "128 units"
    assert subnetworks.setting_label((1, "plain", 0.0), 200) == "1 unit"
    assert subnetworks.setting_label((128, "dropout", 0.5), 200) == (
        "128 units + dropout rate 0.5 (keep_prob 0.5)"
    )
    assert subnetworks.setting_label((128, "L2", 0.001), 200, short=True) == (
        "L2 0.001 (course λ 0.4)"
    )
    assert "one fixed mask" in subnetworks.setting_label((64, "fixed mask", 0.5), 200)
    chosen = [(4, "plain", 0.0), (8, "plain", 0.0), (4, "plain", 0.0)]
    assert subnetworks.chosen_text(chosen, 200) == "4 units ×2, 8 units ×1"


def test_zero_share_counts_silent_relu_outputs_only():
    model = small_model(keras.layers.Dropout(0.5))
    dense = model.layers[0]
    dense.set_weights([np.array([[1.0] * 4 + [-1.0] * 4, [0.0] * 8]), np.zeros(8)])
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]], dtype="float32")
    # Half the units are zero on each of the first two inputs, all eight on the third; the sigmoid
    # output is not counted, and dropout does not act at inference.
    assert subnetworks.zero_share(model, x) == pytest.approx((4 + 4 + 8) / 24)
    with pytest.raises(ValueError, match="no hidden ReLU"):
        subnetworks.zero_share(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), x)


def test_best_step_is_the_step_of_the_lowest_validation_loss():
    records = [{"step": 50 * (i + 1), "validation_loss": v} for i, v in enumerate([3, 1, 2, 1])]
    assert subnetworks.best_step(records) == 100
    assert subnetworks.at_best(records) is records[1]  # the first of a tie: stopped early
    with pytest.raises(ValueError, match="no records"):
        subnetworks.at_best([])


def run(losses: list[float], accuracies: list[float]) -> list[dict[str, float]]:
    return [
        {"step": 10 * (i + 1), "validation_loss": v, "test_accuracy": a}
        for i, (v, a) in enumerate(zip(losses, accuracies, strict=True))
    ]


def test_tune_reads_each_setting_at_its_best_step_and_chooses_seed_by_seed():
    records = {
        # seed 0: "a" is best at its first record (0.2) although it ends worst (0.9)
        "a": [run([0.2, 0.9], [0.8, 0.6]), run([0.7, 0.6], [0.5, 0.55])],
        "b": [run([0.5, 0.3], [0.7, 0.75]), run([0.4, 0.5], [0.9, 0.85])],
    }
    tuned = subnetworks.tune(records)
    assert tuned["chosen"] == ["a", "b"]
    assert list(tuned["step"]) == [10, 10]
    assert list(tuned["test_accuracy"]) == [0.8, 0.9]
    assert list(tuned["validation_loss"]) == [0.2, 0.4]


def test_grid_edges_name_the_edge_and_how_often_it_was_chosen():
    assert subnetworks.grid_edges([0.5, 0.25, 0.5], [0.25, 0.5, 0.75]) == (
        "the smallest offered (0.25) on 1 of 3 seeds"
    )
    assert subnetworks.grid_edges([0.75, 0.75, 0.25], [0.25, 0.5, 0.75]) == (
        "the largest offered (0.75) on 2 of 3 seeds and the smallest offered (0.25) on 1 of 3 seeds"
    )
    assert subnetworks.grid_edges([0.5, 0.5], [0.25, 0.5, 0.75]) == ""
    assert subnetworks.grid_edges([0.0, 0.0], [0.0]) == ""  # a grid of one is no choice


def test_likeness_says_as_accurate_only_inside_the_margin_and_names_the_direction():
    def said(differences: list[float]) -> str:
        comparison = stats.paired(differences, [0.0] * len(differences), "equal", 0.01, 100)
        return subnetworks.likeness(comparison, "dropout")

    assert said([0.001, -0.001, 0.002, -0.002]) == "as accurate as dropout, within one point"
    assert said([-0.004, -0.005, -0.006, -0.005]) == (
        "as accurate as dropout, within one point, slightly less"
    )
    assert (
        said([-0.03, -0.031, -0.029, -0.03]) == "less accurate than dropout, by more than one point"
    )
    assert said([-0.008, -0.012, -0.006, -0.014]).startswith(
        "less accurate than dropout, by an amount"
    )
    assert said([0.02, -0.02, 0.015, -0.01]) == "not shown to be within one point of dropout"


def test_mc_grid_holds_half_and_largest_k():
    assert subnetworks.mc_grid(100) == [1, 2, 5, 10, 20, 50, 100]
    assert subnetworks.mc_grid(50) == [1, 2, 5, 10, 20, 25, 50]
    assert subnetworks.mc_grid(1) == [1]


def test_boundary_accuracy_counts_flipped_labels():
    x = np.random.default_rng(3).uniform(-0.75, 0.75, size=(50, 2))
    clean = (x[:, 1] > goalkeeper_boundary(x[:, 0])).astype("float32")
    assert subnetworks.boundary_accuracy(x, clean) == 1.0
    clean[:5] = 1 - clean[:5]
    assert subnetworks.boundary_accuracy(x, clean) == pytest.approx(0.9)


def test_tuned_row_names_the_choice_its_grid_edge_and_the_edge_of_the_recorded_steps():
    records = {
        (64, "dropout", 0.5): [run([0.5, 0.4], [0.7, 0.8]), run([0.3, 0.6], [0.9, 0.6])],
        (64, "dropout", 0.75): [run([0.6, 0.7], [0.6, 0.6]), run([0.7, 0.8], [0.5, 0.5])],
    }
    for r in [*records.values()][0][0] + [*records.values()][0][1]:
        r["test_loss"] = 0.4
    for r in [*records.values()][1][0] + [*records.values()][1][1]:
        r["test_loss"] = 0.5
    tuned = subnetworks.tune(records)
    assert tuned["recorded_steps"] == [10, 20]
    row = subnetworks.tuned_row("dropout", tuned, [0.25, 0.5], n_train=200)
    assert dict(zip(subnetworks.TUNED_COLUMNS, row, strict=True)) == {
        "model": "dropout",
        "chosen on validation": "dropout rate 0.5 (keep_prob 0.5) ×2",
        "on the edge of its grid": "the largest offered (0.5) on 2 of 2 seeds; "
        "step: the largest offered (20) on 1 of 2 seeds and the smallest offered (10) on 1 of 2 "
        "seeds",
        "best step": "15 ± 7",
        "test accuracy": "0.850 ± 0.071",
        "test log-loss": "0.400 ± 0.000",
    }
