"""Strength sweeps, the validated choice, gains over a baseline and the "when to use which" table,
checked on small hand-made records."""

import numpy as np
import pytest

from nnreg_keras import sweeps


def record(strength, seed, val, test, **fields):
    return {
        **fields,
        "strength": strength,
        "seed": seed,
        "validation_accuracy": val,
        "test_accuracy": test,
    }


# Validation prefers 0.01; the test set would prefer 0.1 (where validation is worst).
SWEEP = [
    record(0.0, 0, 0.80, 0.70),
    record(0.0, 1, 0.82, 0.72),
    record(0.01, 0, 0.90, 0.75),
    record(0.01, 1, 0.88, 0.77),
    record(0.1, 0, 0.70, 0.95),
    record(0.1, 1, 0.72, 0.97),
]


def test_sweep_loops_strength_outer_seed_inner_and_keeps_fields():
    calls = []

    def train(strength, seed):
        calls.append((strength, seed))
        return {"test_accuracy": strength + seed}

    records = sweeps.sweep([0.1, 0.2], [3, 4], train, regularizer="L2")
    assert calls == [(0.1, 3), (0.1, 4), (0.2, 3), (0.2, 4)]
    assert records[1] == {"regularizer": "L2", "strength": 0.1, "seed": 4, "test_accuracy": 4.1}
    widths = sweeps.sweep([8, 2], [0], lambda w, seed: {"test_accuracy": w / 10}, knob="width")
    assert sweeps.curves(widths, "test_accuracy", knob="width")[0] == [2, 8]


def test_the_validated_choice_ignores_the_test_scores():
    choice = sweeps.choose_strength(SWEEP)
    assert choice.strength == 0.01
    assert choice.validation_mean == pytest.approx(0.89)
    assert choice.test_scores == {0: 0.75, 1: 0.77}
    assert choice.test_mean == pytest.approx(0.76) and choice.test_sd == pytest.approx(
        np.std([0.75, 0.77], ddof=1)
    )
    changed_test = [dict(r, test_accuracy=1.0 - r["test_accuracy"]) for r in SWEEP]
    assert sweeps.choose_strength(changed_test).strength == 0.01


def test_a_loss_is_minimised_and_ties_go_to_the_weaker_strength():
    tied = [record(s, seed, 0.9, 0.5) for s in (0.3, 0.1, 0.2) for seed in (0, 1)]
    assert sweeps.choose_strength(tied).strength == 0.1
    losses = [dict(r, validation_loss=1 - r["validation_accuracy"]) for r in SWEEP]
    assert (
        sweeps.choose_strength(losses, score="validation_loss", higher_is_better=False).strength
        == 0.01
    )
    widths = [dict(r, width=int(1000 * r.pop("strength")) + 4) for r in map(dict, SWEEP)]
    assert sweeps.choose_strength(widths, knob="width").strength == 14  # 0.01 -> 14 units


def test_curves_are_seeds_by_strengths_and_need_the_same_seeds():
    strengths, values = sweeps.curves(SWEEP, "test_accuracy")
    assert strengths == [0.0, 0.01, 0.1]
    np.testing.assert_allclose(values, [[0.70, 0.75, 0.95], [0.72, 0.77, 0.97]])
    with pytest.raises(ValueError, match="same seeds"):
        sweeps.curves(SWEEP[:-1], "test_accuracy")


def test_gain_is_seed_by_seed_and_counts_seeds_won():
    g = sweeps.gain({0: 0.8, 1: 0.7, 2: 0.9}, {0: 0.7, 1: 0.7, 2: 0.85})
    assert g.mean == pytest.approx(0.05) and g.sd == pytest.approx(np.std([0.1, 0.0, 0.05], ddof=1))
    assert (g.seeds_won, g.seeds) == (2, 3)  # an equal score is not a win
    with pytest.raises(ValueError, match="same seeds"):
        sweeps.gain({0: 0.8}, {1: 0.7})


def test_scores_refuse_a_repeated_seed():
    assert sweeps.scores(sweeps.select(SWEEP, strength=0.1)) == {0: 0.95, 1: 0.97}
    with pytest.raises(ValueError, match="repeat a seed"):
        sweeps.scores(SWEEP)


def test_when_to_use_which_names_winner_margin_and_seeds_won():
    rows = sweeps.when_to_use_which(
        {
            "little data": {
                "none": {0: 0.70, 1: 0.72},
                "dropout": {0: 0.80, 1: 0.71},
                "L2": {0: 0.75, 1: 0.74},
            },
            "much data": {"none": {0: 0.9, 1: 0.9}, "dropout": {0: 0.9, 1: 0.9}},
        }
    )
    assert [r["situation"] for r in rows] == ["little data", "much data"]
    little, much = rows
    assert (little["winner"], little["runner_up"]) == ("dropout", "L2")
    assert (
        little["margin"] == pytest.approx(0.755 - 0.745)
        and little["seeds_won"] == 1
        and little["seeds"] == 2
    )
    assert (much["winner"], much["margin"], much["seeds_won"]) == (
        "none",
        0.0,
        0,
    )  # a tie credits "none"
    with pytest.raises(ValueError, match="at least two choices"):
        sweeps.when_to_use_which({"alone": {"none": {0: 0.5}}})
