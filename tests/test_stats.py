"""Paired comparisons over seeds: the interval against scipy.stats, and the three statuses."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from nnreg_keras import stats
from nnreg_keras.exceptions import ParameterError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("seeds", [2, 3, 5, 10, 20])
def test_interval_is_scipys_t_interval_of_the_paired_differences(seeds):
    a, b = RNG.normal(0.8, 0.05, seeds), RNG.normal(0.79, 0.05, seeds)
    comparison = stats.paired(a, b)
    differences = a - b
    low, high = scipy_stats.t.interval(
        0.95, seeds - 1, loc=differences.mean(), scale=scipy_stats.sem(differences)
    )
    assert comparison.difference == pytest.approx(differences.mean(), abs=1e-12)
    assert comparison.interval == pytest.approx((low, high), abs=1e-12)
    assert comparison.seeds == seeds and comparison.won == int((differences > 0).sum())
    assert comparison.half_width == pytest.approx((high - low) / 2)
    # the interval excludes zero exactly when scipy's paired t-test rejects at 5%
    p = scipy_stats.ttest_rel(a, b).pvalue
    assert (comparison.status != stats.INCONCLUSIVE) == (p < 0.05)


def test_the_three_statuses_follow_the_interval():
    up = [0.80, 0.81, 0.82, 0.83, 0.84]
    base = [0.70, 0.70, 0.71, 0.72, 0.72]
    assert stats.paired(up, base).status == stats.HELD
    assert stats.paired(base, up).status == stats.NOT_HELD
    assert stats.paired(base, up, expect="lower").status == stats.HELD
    noisy = [0.70, 0.75, 0.68, 0.74, 0.71]
    tie = stats.paired(noisy, [0.72, 0.70, 0.73, 0.71, 0.72])
    assert tie.interval[0] < 0 < tie.interval[1] and tie.status == stats.INCONCLUSIVE
    assert tie.winner("dropout", "L2") == "tie"
    assert stats.paired(up, base).winner("dropout", "L2") == "dropout"
    assert stats.paired(base, up).winner("dropout", "L2") == "L2"


def test_an_equivalence_claim_holds_only_inside_its_margin():
    a = [0.800, 0.801, 0.799, 0.800, 0.802]
    b = [0.800, 0.800, 0.800, 0.801, 0.801]
    assert stats.paired(a, b, expect="equal", margin=0.01).status == stats.HELD
    assert stats.paired(a, b, expect="equal", margin=0.0005).status == stats.INCONCLUSIVE
    far = [x + 0.1 for x in b]
    assert stats.paired(far, b, expect="equal", margin=0.01).status == stats.NOT_HELD


def test_one_seed_decides_nothing():
    one = stats.paired([0.9], [0.1])
    assert one.interval is None and one.status == stats.INCONCLUSIVE
    assert "one seed" in one.summary()


def test_summary_and_cell_write_points():
    comparison = stats.paired([0.82, 0.84, 0.83], [0.80, 0.81, 0.80], scale=100, unit="points")
    assert comparison.summary().startswith("+2.67 points (95% interval +")
    assert "higher on 3 of 3 seeds" in comparison.summary()
    assert comparison.cell().startswith("+2.67 (")
    assert comparison.as_record()["interval"] == list(comparison.interval)
    assert comparison.effect == "+2.67 points"
    lower = stats.paired([0.80, 0.81, 0.80], [0.82, 0.84, 0.83], scale=100, unit="points")
    assert lower.effect == "−2.67 points"  # a minus sign, as in the findings


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"a": [1, 2], "b": [1]}, "one value per seed on each side"),
        ({"a": [1, float("nan")], "b": [1, 2]}, "finite number per seed"),
        ({"a": [1, 2], "b": [1, 2], "expect": "bigger"}, "accepted one of higher, lower, equal"),
        ({"a": [1, 2], "b": [1, 2], "expect": "equal"}, "needs its equivalence margin"),
        ({"a": [1, 2], "b": [1, 2], "margin": 0.1}, "needs its equivalence margin"),
        (
            {"a": [1, 2], "b": [1, 2], "expect": "equal", "margin": -1},
            "accepted a finite number > 0",
        ),
    ],
)
def test_bad_comparisons_name_what_is_accepted(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        stats.paired(**kwargs)


def test_detectable_difference_shrinks_with_the_square_root_of_the_seeds():
    five, twenty = stats.detectable_difference(0.02, 5), stats.detectable_difference(0.02, 20)
    assert five == pytest.approx(scipy_stats.t.ppf(0.975, 4) * 0.02 / math.sqrt(5))
    assert twenty < five / 2
    assert stats.detectable_difference(0.02, 1) == math.inf
