"""Per-seed scores of a sweep, the combined grid and the "when to use which" winners, checked on
small hand-made records."""

import numpy as np
import pytest

from nnreg_keras import stats, sweeps


def record(lambd, seed, val, test, **fields):
    return {
        **fields,
        "lambd": lambd,
        "seed": seed,
        "validation_accuracy": val,
        "test_accuracy": test,
    }


# Seeds listed out of order on purpose: scores come back in increasing seed order.
SWEEP = [
    record(0.0, 1, 0.82, 0.72),
    record(0.0, 0, 0.80, 0.70),
    record(1.0, 0, 0.90, 0.75),
    record(1.0, 1, 0.88, 0.77),
    record(3.0, 0, 0.70, 0.95),
    record(3.0, 1, 0.72, 0.97),
]


def test_scores_are_in_seed_order_and_refuse_a_repeated_seed():
    assert sweeps.scores(sweeps.select(SWEEP, lambd=0.0)) == {0: 0.70, 1: 0.72}
    assert list(sweeps.scores(sweeps.select(SWEEP, lambd=0.0))) == [0, 1]
    assert sweeps.per_seed(sweeps.select(SWEEP, lambd=3.0), "validation_accuracy") == [0.70, 0.72]
    with pytest.raises(ValueError, match="repeat a seed"):
        sweeps.scores(SWEEP)


def test_curves_are_seeds_by_values_and_need_the_same_seeds():
    values, accuracy = sweeps.curves(SWEEP, "test_accuracy")
    assert values == [0.0, 1.0, 3.0]
    np.testing.assert_allclose(accuracy, [[0.70, 0.75, 0.95], [0.72, 0.77, 0.97]])
    rates = [dict(r, rate=r.pop("lambd") / 10) for r in map(dict, SWEEP)]
    assert sweeps.curves(rates, "test_accuracy", knob="rate")[0] == [0.0, 0.1, 0.3]
    with pytest.raises(ValueError, match="same seeds"):
        sweeps.curves(SWEEP[:-1], "test_accuracy")


def test_one_step_weaker_keeps_the_choice_and_its_weaker_neighbour_never_zero():
    grid = [0.0, 0.3, 1.0, 3.0]
    assert sweeps.one_step_weaker(grid, 1.0) == [0.3, 1.0]
    assert sweeps.one_step_weaker(grid, 0.3) == [0.3]  # the weakest has no weaker neighbour
    assert sweeps.one_step_weaker(grid, 0.0) == [0.3]  # validation chose none: the weakest
    with pytest.raises(ValueError):
        sweeps.one_step_weaker(grid, 2.0)  # not a value of the grid


def test_at_best_reads_each_model_at_its_lowest_validation_loss():
    history = [
        {"step": 50, "validation_loss": 0.60, "test_accuracy": 0.70},
        {"step": 100, "validation_loss": 0.40, "test_accuracy": 0.80},
        {"step": 150, "validation_loss": 0.40, "test_accuracy": 0.81},  # a tie: the earlier wins
        {"step": 200, "validation_loss": 0.55, "test_accuracy": 0.90},  # past its best
    ]
    best = sweeps.at_best(history)
    assert best["test_accuracy"] == 0.80 and best["best_step"] == 100 and best["last_step"] == 200
    rising = sweeps.at_best(history[:2])
    assert sweeps.still_improving([best, rising]) == 0.5  # the second was best at its last record
    assert sweeps.at_best(history, key="test_accuracy")["best_step"] == 50  # any key, lowest
    with pytest.raises(ValueError, match="no best step"):
        sweeps.at_best([])


def test_grid_place_names_an_edge_choice():
    assert sweeps.grid_place([0.1, 0.5, 2.5], 0.5) == "inside"
    assert sweeps.grid_place([2.5, 0.1, 0.5], 0.1) == "smallest"
    assert sweeps.grid_place([0.1, 0.5, 2.5], 2.5) == "largest"
    assert sweeps.grid_place([0.5], 0.5) == "inside"  # one value: no grid to leave


def comparisons(**pairs):
    """{(a, b): Comparison} from per-seed differences a − b."""
    return {
        tuple(name.split("_minus_")): stats.paired(diff, [0.0] * len(diff))
        for name, diff in pairs.items()
    }


def test_the_winner_beats_every_other_choice_else_the_unbeaten_tie():
    clear = comparisons(
        L2_minus_none=[3, 4, 5], dropout_minus_none=[3, 4, 5], L2_minus_dropout=[2, 2.5, 3]
    )
    assert sweeps.winner(clear) == "L2"
    tied = comparisons(
        L2_minus_none=[3, 4, 5], dropout_minus_none=[3, 4, 5], L2_minus_dropout=[-1, 1, 0.5]
    )
    assert sweeps.winner(tied) == "tie (L2, dropout)"
    noise = comparisons(
        L2_minus_none=[-1, 1, 0], dropout_minus_none=[1, -1, 0], L2_minus_dropout=[-2, 2, 0]
    )
    assert sweeps.winner(noise) == "tie"
    none_best = comparisons(
        L2_minus_none=[-3, -4, -5], dropout_minus_none=[-3, -4, -5], L2_minus_dropout=[1, -1, 0]
    )
    assert sweeps.winner(none_best) == "none"


def test_when_to_use_which_compares_each_pair_seed_by_seed():
    rows = sweeps.when_to_use_which(
        {
            "little data": {
                "none": [0.70, 0.72, 0.71],
                "dropout": [0.80, 0.81, 0.79],
                "L2": [0.75, 0.74, 0.76],
            },
            "much data": {
                "none": [0.9, 0.9, 0.9],
                "dropout": [0.9, 0.91, 0.89],
                "L2": [0.9, 0.9, 0.9],
            },
        }
    )
    assert [r["situation"] for r in rows] == ["little data", "much data"]
    little, much = rows
    l2_dropout = little["comparisons"][("L2", "dropout")]
    assert l2_dropout.difference * l2_dropout.scale == pytest.approx(-5.0)
    assert l2_dropout.cell().startswith("−5.00 (") and l2_dropout.unit == "points"
    assert little["winner"] == "dropout" and much["winner"] == "tie"
    with pytest.raises(ValueError, match="lacks the choices"):
        sweeps.when_to_use_which({"alone": {"none": [0.5, 0.6]}})


def choose_best_mean_validation(records, knob):
    values, accuracy = sweeps.curves(records, "validation_accuracy", knob)
    return values[int(np.argmax(accuracy.mean(axis=0)))]


def situation():
    """none, two λ and two rates over two seeds; validation prefers λ 1 and rate 0.3."""
    rows = []
    for name, lambd, rate, val, test in (
        ("none", 0.0, 0.0, 0.80, 0.70),
        ("L2", 1.0, 0.0, 0.90, 0.80),
        ("L2", 3.0, 0.0, 0.85, 0.95),
        ("dropout", 0.0, 0.3, 0.88, 0.76),
        ("dropout", 0.0, 0.5, 0.70, 0.90),
    ):
        for seed in (0, 1):
            rows.append(
                dict(record(lambd, seed, val, test + seed / 100), regularizer=name, rate=rate)
            )
    return rows


def test_tune_keeps_each_regularizer_at_its_validated_strength_beside_none():
    tuned = sweeps.tune(situation(), choose_best_mean_validation)
    assert tuned.strengths == {"L2": 1.0, "dropout": 0.3}
    assert tuned.scores() == {
        "none": [0.70, 0.71],
        "L2": [0.80, 0.81],
        "dropout": pytest.approx([0.76, 0.77]),
    }
    assert tuned.best == "L2"  # validation 0.90 against 0.88, whatever the test set says
    assert tuned.grids == {"L2": [1.0, 3.0], "dropout": [0.3, 0.5]}
    assert tuned.places() == {"L2": "smallest", "dropout": "smallest"}
    assert tuned.chosen(200) == (
        "L2 0.0025 (course λ 1), smallest tried; dropout rate 0.3 (keep_prob 0.7), smallest tried"
    )
    assert tuned.chosen(200, "dropout") == "dropout rate 0.3 (keep_prob 0.7), smallest tried"
    no_dropout = [r for r in situation() if r["regularizer"] != "dropout"]
    assert list(sweeps.tune(no_dropout, choose_best_mean_validation).scores()) == ["none", "L2"]


def test_strength_text_gives_keras_factor_and_course_lambda_for_each_m():
    assert sweeps.strength_text("L2", 1.0, 200) == "L2 0.0025 (course λ 1)"
    assert sweeps.strength_text("L2", 1.0, 2000) == "L2 0.00025 (course λ 1)"
    assert sweeps.strength_text("dropout", 0.5, 200) == "dropout rate 0.5 (keep_prob 0.5)"


def phone_figures():
    """Tutorial 05's figures, drawn from small made-up sweeps."""
    from nnreg_keras import plots

    rng = np.random.default_rng(0)

    def noisy(level, n):
        return level + 0.01 * rng.standard_normal((5, n))

    def splits(n):
        return {s: noisy(v, n) for s, v in (("train", 0.9), ("validation", 0.85), ("test", 0.84))}

    x = np.linspace(-0.8, 0.8, 30)
    xx, yy = np.meshgrid(x, x)
    labels = [
        "2-D field, 200 points, 64 units",
        "2-D field, 2000 points",
        "mixed units, 200 examples",
    ]
    return {
        "strength_sweeps": plots.strength_sweeps(
            {
                "course λ": ([0.0, 0.1, 0.5, 2.5], splits(4)),
                "dropout rate": ([0.0, 0.1, 0.4, 0.7], splits(4)),
            },
            {"course λ": 0.5, "dropout rate": 0.4},
            log_x=("course λ",),
        ),
        "boundary_frame": plots.boundary_frame(
            xx,
            yy,
            (yy.ravel() > 0).astype(float),
            rng.uniform(-0.8, 0.8, (50, 2)),
            rng.integers(0, 2, 50),
            "L2 0.00125 (course λ 0.5)\ntrain 0.930, test 0.847",
            (x, -0.6 * x),
        ),
        "width_accuracy": plots.width_accuracy(
            [4, 8, 16, 32, 64], noisy(0.84, 5), {"64 units, tuned dropout": [0.85] * 5}, 16
        ),
        "paired_differences": plots.paired_differences(
            labels,
            {"L2 − none": [(2.0, 1.4, 2.6)] * 3, "dropout − none": [(1.9, 1.2, 2.7)] * 3},
            "gain (points)",
        ),
    }


def drawn(text) -> bool:
    """Whether a text is drawn: visible, and for a tick label, its tick inside the axis' view."""
    if not text.get_visible():
        return False
    for ax in text.figure.axes:
        for axis, position in ((ax.xaxis, 0), (ax.yaxis, 1)):
            if text in axis.get_ticklabels(which="both"):
                low, high = sorted(axis.get_view_interval())
                return low <= text.get_position()[position] <= high
    return True


def test_tutorial_05_figures_are_readable_at_a_phone_width():
    import matplotlib.pyplot as plt

    for name, fig in phone_figures().items():
        assert fig.get_figwidth() <= 7, name
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        texts = [t for t in fig.findobj(plt.Text) if drawn(t) and t.get_text().strip()]
        small = [t.get_text() for t in texts if t.get_fontsize() < 10]
        assert not small, (name, small)
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
        for i, (a, box_a) in enumerate(boxes):
            for b, box_b in boxes[i + 1 :]:
                assert not box_a.overlaps(box_b), (name, a, b)
        plt.close(fig)


def test_likeness_says_as_good_as_only_inside_the_margin_and_which_way():
    def equal(differences):
        return stats.paired(differences, [0.0] * len(differences), "equal", 1.0)

    assert sweeps.likeness(equal([-0.2, 0.1, 0.0, 0.1])) == "as good as"
    assert sweeps.likeness(equal([-0.5, -0.4, -0.45, -0.55])) == (
        "within a point of, and slightly below,"
    )
    assert sweeps.likeness(equal([0.5, 0.4, 0.45, 0.55]), "within 1 point").endswith("above,")
    assert sweeps.likeness(equal([-3.0, -2.9, -3.1, -3.0])) == "below"
    assert sweeps.likeness(equal([3.0, 2.9, 3.1, 3.0])) == "above"
    assert sweeps.likeness(equal([-3.0, 3.0, -1.0, 1.0])) == "not shown to be as good as"


def test_the_short_answer_leads_from_the_smaller_network_claim():
    def equal(differences):
        return stats.paired(differences, [0.0] * len(differences), "equal", 1.0)

    assert sweeps.smaller_lead(equal([-0.2, 0.1, 0.0, 0.1])) == "You may not need to"
    assert sweeps.smaller_lead(equal([-3.0, -2.9, -3.1, -3.0])) == "Because it scored higher"
    assert sweeps.smaller_lead(equal([3.0, 2.9, 3.1, 3.0])) == "You need not"
    assert sweeps.smaller_lead(equal([-3.0, 3.0, -1.0, 1.0])) == "This run cannot tell"
    assert sweeps.BEAT[stats.paired([1.0, 1.1], [0.0, 0.0]).status] == "beat"


def test_beat_none_says_both_claims_in_one_sentence():
    up, down, unsure = (
        stats.paired(d, [0.0] * 3) for d in ([1, 1.1, 0.9], [-1, -1.1, -0.9], [-1, 1, 0])
    )
    assert sweeps.beat_none(up, up, "none") == "Tuned L2 and tuned dropout both beat none"
    assert sweeps.beat_none(down, down, "X") == "Tuned L2 and tuned dropout both scored below X"
    assert (
        sweeps.beat_none(unsure, unsure, "X") == "Neither tuned L2 nor tuned dropout clearly beat X"
    )
    assert (
        sweeps.beat_none(unsure, up, "X")
        == "Tuned L2 did not clearly beat X; tuned dropout beat it"
    )
