"""What a notebook's findings say: the Recorder's optional arguments, p-values and the false
discovery rate against scipy.stats, statuses that stay final, sentences true to their numbers, the
short answer's checkable rules, and all of it over the quick profile's results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from nnreg_keras import recording, stats
from nnreg_keras.exceptions import ResultsError
from nnreg_keras.formatting import dropout_label
from nnreg_keras.pipeline.contract import validate
from nnreg_keras.recording import Recorder, numbers_in, verdict_problems

RNG = np.random.default_rng(28)


def finished(rec: Recorder, verdict: str = "Yes: it runs.") -> dict:
    """The results `rec` would write, validated against the contract."""
    rec.verdict(verdict)
    rec.write()
    return rec.data


# --- the Recorder's arguments -------------------------------------------------------------------


def test_parameters_and_seeds_are_optional():
    rec = Recorder("98_short", "Short", ["Does it run?"])
    data = finished(rec)
    assert "parameters" not in data and "seeds" not in data and data["comparisons"] == 0
    validate(data)


def test_seeds_come_from_the_parameters_when_not_given():
    rec = Recorder("98_short", "Short", ["Does it run?"], {"steps": 3, "seeds": [4, 5]})
    assert rec.data["parameters"] == {"steps": 3, "seeds": [4, 5]} and rec.data["seeds"] == [4, 5]
    old = Recorder("98_short", "Short", ["Does it run?"], {"steps": 3}, [0, 1], output_dir=None)
    assert finished(old)["seeds"] == [0, 1] and old.data["parameters"] == {"steps": 3}


def test_the_short_and_the_long_compare_record_the_same_claim():
    a, b = [0.92, 0.93, 0.92, 0.94], [0.90, 0.90, 0.91, 0.91]
    short, long = Recorder("98_a", "A", ["q"]), Recorder("98_a", "A", ["q"])
    one = short.compare("wide_beats_narrow", a, b, points=True, expected="Wide beats narrow")
    two = long.compare(
        "wide_beats_narrow", "Wide beats narrow", a, b, "higher", None, 100, "points"
    )
    assert one == two and short.data["claims"] == long.data["claims"]
    assert short.data["claims"][0]["text"].startswith(
        "Wide beats narrow: +2.25 points (95% interval +0."
    )
    keywords = Recorder("98_a", "A", ["q"])
    keywords.compare(
        "wide_beats_narrow", expected="Wide beats narrow", a=a, b=b, scale=100, unit="points"
    )
    assert keywords.data["claims"] == long.data["claims"]
    named = Recorder("98_a", "A", ["q"]).compare("dropout_sparser", a, b)
    assert named.scale == 1 and named.unit == "" and named.expect == "higher"
    equal = Recorder("98_a", "A", ["q"])
    assert equal.compare("as_good", a, b, margin=0.05, points=True).expect == "equal"
    assert equal.data["claims"][0]["text"].startswith("As good: within ±5.00 points")
    lower = Recorder("98_a", "A", ["q"]).compare("x", a, b, expect="lower", unit="nats")
    assert lower.expect == "lower" and lower.unit == "nats" and lower.status == stats.NOT_HELD


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (([1, 2],), {}, "takes a and b"),
        (("text", [1, 2]), {}, "takes a and b"),
        (([1, 2], [1, 2], "higher"), {"expect": "lower"}, "got expect twice"),
        (([1, 2], [1, 2]), {"a": [1, 2]}, "got a twice"),
        (([1],) * 8, {}, "at most 9 positional arguments"),
        (("text", [1, 2], [1, 2]), {"expected": "again"}, "expected text twice"),
    ],
)
def test_a_compare_call_that_says_something_twice_or_too_little_is_refused(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        Recorder("98_a", "A", ["q"]).compare("x", *args, **kwargs)


# --- p-values and the false discovery rate ------------------------------------------------------


@pytest.mark.parametrize("seeds", [2, 3, 5, 15])
def test_p_values_are_scipys_paired_t_test(seeds):
    a, b = RNG.normal(0.8, 0.05, seeds), RNG.normal(0.78, 0.05, seeds)
    for expect in ("higher", "lower"):
        p = stats.paired(a, b, expect).p
        assert p == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("shift", [0.0, 0.004, 0.02])
def test_equivalence_is_two_one_sided_tests_on_the_90_percent_interval(shift):
    a = RNG.normal(0.8, 0.01, 8)
    b = a - shift + RNG.normal(0, 0.004, 8)
    comparison = stats.paired(a, b, "equal", 0.01)
    differences = a - b
    below = scipy_stats.ttest_1samp(differences, -0.01, alternative="greater").pvalue
    above = scipy_stats.ttest_1samp(differences, 0.01, alternative="less").pvalue
    assert comparison.p == pytest.approx(max(below, above), rel=1e-9, abs=1e-14)
    low, high = scipy_stats.t.interval(
        0.90, 7, loc=differences.mean(), scale=scipy_stats.sem(differences)
    )
    assert comparison.equivalence_interval == pytest.approx((low, high), abs=1e-12)
    inside = -0.01 <= low and high <= 0.01
    assert (comparison.status == stats.HELD) == inside == (comparison.p < 0.05)


def test_exact_differences_have_p_values_too():
    assert stats.paired([1, 2, 3], [0, 1, 2]).p == 0.0
    assert stats.paired([1, 2, 3], [1, 2, 3]).p == 1.0
    assert stats.paired([1, 2, 3], [1, 2, 3], "equal", 0.5).p == 0.0
    assert stats.paired([1, 2, 3], [0, 1, 2], "equal", 0.5).p == 1.0
    assert stats.paired([0.9], [0.1]).p is None


def test_adjusted_p_values_are_scipys_benjamini_hochberg():
    p = RNG.uniform(0, 0.2, 12).tolist() + [1.0, 0.0]
    assert stats.adjusted_p(p) == pytest.approx(
        scipy_stats.false_discovery_control(p, method="bh").tolist(), abs=1e-15
    )
    assert stats.adjusted_p([]) == []


BARELY = ([0.31, 0.309, 0.305, 0.322], [0.30, 0.305, 0.29, 0.315])  # p = 0.03, alone


def noisy_pair(effect: float, seeds: int = 6) -> tuple[np.ndarray, np.ndarray]:
    b = RNG.normal(0.8, 0.02, seeds)
    return b + effect + RNG.normal(0, 0.01, seeds), b


def test_the_recorder_adjusts_every_comparison_and_updates_them_in_place(monkeypatch):
    shown = []
    monkeypatch.setattr(recording, "_display", lambda bundle, *ids: shown.append((bundle, ids)))
    rec = Recorder("98_fdr", "FDR", ["q"])
    first = rec.compare("barely", *BARELY, points=True)
    assert first.p < 0.05 and first.status == stats.HELD and first.comparisons == 1
    returned = [first]
    for k in range(5):  # comparisons that decide nothing raise the others' adjusted p-values
        returned.append(rec.compare(f"null_{k}", *noisy_pair(0.0)))
    p = [c.p for c in returned]
    assert [c.p_adjusted for c in returned] == pytest.approx(
        scipy_stats.false_discovery_control(p).tolist(), abs=1e-15
    )
    assert first.p_adjusted >= 0.05 and first.status == stats.INCONCLUSIVE  # the same object
    assert (first.p_value, first.adjusted_p) == (first.p, first.p_adjusted)
    assert rec.data["comparisons"] == 6 and all(c.comparisons == 6 for c in returned)
    claim = next(c for c in rec.data["claims"] if c["name"] == "barely")
    assert claim["status"] == stats.INCONCLUSIVE and claim["p_adjusted"] == first.p_adjusted
    assert "once adjusted for the notebook's 6 comparisons" in claim["text"]
    assert f"adjusted p {stats.p_text(first.p_adjusted)} over 6 comparisons" in claim["text"]
    shown_first = next(ids[0] for _, ids in shown if ids and ids[0].startswith("98_fdr/barely/"))
    updated = [b["text/plain"] for b, ids in shown if ids == (shown_first, True)]
    assert updated and updated[-1].startswith("Finding (inconclusive): Barely: not decided")
    shown.clear()
    rec.verdict("Not decided.")
    assert [b["text/plain"] for b, _ in shown][-1] == (
        "This notebook makes 6 comparisons; their p-values are adjusted together (false discovery"
        " rate)."
    )
    validate(finished(rec))


def test_a_status_changed_after_the_verdict_stops_the_write():
    rec = Recorder("98_late", "Late", ["q"])
    rec.compare("barely", *BARELY)
    rec.verdict("Yes: it held.")
    for k in range(5):
        rec.compare(f"null_{k}", *noisy_pair(0.0))
    with pytest.raises(ResultsError, match="changed the status of 'barely' .held when the verdict"):
        rec.write()
    rec.verdict("Not decided.")
    rec.write()


def test_the_contract_rechecks_the_status_against_the_adjusted_p_value():
    rec = Recorder("98_contract", "Contract", ["q"])
    rec.compare("clear", *noisy_pair(0.05))
    rec.compare("tie", *noisy_pair(0.0))
    data = finished(rec)
    forged = json.loads(json.dumps(data))
    forged["claims"][0]["p_adjusted"] = 0.2  # the interval still excludes zero
    with pytest.raises(ResultsError, match="adjusted p-value 0.2 decide 'inconclusive'"):
        validate(forged)


# --- sentences true to their numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, status, lead",
    [
        (
            [0.800, 0.801, 0.802, 0.803],
            [0.803, 0.805, 0.805, 0.807],
            stats.HELD,
            "within ±1.00 points, slightly lower: −0.35 points (90% interval",
        ),
        (
            [0.800, 0.801, 0.799, 0.800],
            [0.800, 0.800, 0.800, 0.800],
            stats.HELD,
            "within ±1.00 points: 0.00 points (90% interval −0.1 to +0.1, margin ±1.00; 95%",
        ),
        (
            [0.90, 0.91, 0.92, 0.90],
            [0.80, 0.80, 0.81, 0.80],
            stats.NOT_HELD,
            "outside ±1.00 points, higher: +10.50 points",
        ),
        (
            [0.80, 0.83, 0.78, 0.84],
            [0.80, 0.80, 0.80, 0.80],
            stats.INCONCLUSIVE,
            "not shown within ±1.00 points at 4 seeds: +1.25 points",
        ),
        (
            [0.81, 0.815, 0.822, 0.825],
            [0.80, 0.80, 0.80, 0.80],
            stats.INCONCLUSIVE,
            "not shown within ±1.00 points at 4 seeds; higher: +1.80",
        ),
    ],
)
def test_an_equivalence_sentence_says_which_way_when_its_interval_excludes_zero(a, b, status, lead):
    comparison = stats.paired(a, b, "equal", 0.01, 100, "points")
    assert comparison.status == status
    assert comparison.measured().startswith(lead)
    if comparison.direction:
        assert comparison.direction in comparison.measured().split(":")[0]


def test_directional_sentences_name_their_status_plainly():
    up, base = [0.80, 0.81, 0.82, 0.83, 0.84], [0.70, 0.70, 0.71, 0.72, 0.72]
    assert stats.paired(up, base).measured().startswith("+0.110 (95% interval +0.")
    assert stats.paired(base, up).measured().startswith("the other way, lower: −0.110 (95%")
    tie = stats.paired([0.70, 0.75, 0.68, 0.74], [0.72, 0.70, 0.73, 0.71])
    assert tie.measured().startswith("not decided at 4 seeds: ")
    assert stats.p_text(0.0004) == "< 0.001" and stats.p_text(0.0042) == "= 0.004"
    assert stats.p_text(0.31) == "= 0.31" and stats.p_text(0.04996) == "= 0.04996"
    assert stats.p_text(0.0502) == "= 0.050" and stats.p_text(0.0123) == "= 0.012"


# --- the short answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("No: L2 and L1 at 0.5 both", ["0.5"]),
        ("Tutorial 01 uses float32 and x_1 in 3D", []),
        ("Yes: 17,025 parameters before and after.", ["17,025"]),
        ("It rose by +3.4 points, then −0.58 points.", ["+3.4", "−0.58"]),
        ("A tuned 1-4 unit network", ["1", "4"]),
        ("90% of 2,000 points; 1e-3", ["90%", "2,000", "1e-3"]),
        ("at rates .5 and 0 and v1.2", [".5", "0"]),
        ("seed 007 and 64-unit networks", ["64"]),
        ("3,4", ["3", "4"]),
    ],
)
def test_numbers_are_numerals_standing_alone(text, numbers):
    assert numbers_in(text) == numbers


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Yes: 1, 2 and 3 points.", "has 3 numbers (1, 2, 3); at most 2"),
        ("Yes: +0.58 points (−0.82 to −0.34).", "interval notation ('(−0.82 to −0.34)')"),
        ("Yes: +0.58 [0.1, 0.3].", "interval notation"),
        ("Yes: within ±1 point.", "interval notation ('±')"),
        ("Yes, the 95% interval says so.", "interval notation ('interval')"),
        ("Yes: accuracy 0.86 (L2 0.84 to 0.88)", "interval notation"),
        ("Yes: at keep_prob 0.5.", "keep_prob"),
        ("Yes: at keep-prob 0.5.", "keep_prob"),
        ("No: height's share points rose.", '"share points"'),
        ("word " * 61, "verdict has 61 words; at most 60"),
    ],
)
def test_a_verdict_in_notation_is_refused(text, problem):
    assert any(problem in p for p in verdict_problems(text)), verdict_problems(text)
    with pytest.raises(ResultsError, match="verdict"):
        Recorder("98_v", "V", ["q"]).verdict(text)


@pytest.mark.parametrize(
    "text",
    [
        "Yes: after training the network keeps all 17,025 parameters; dropout only hides some.",
        "No: L2 and dropout both helped, by 2.1 points and 1.5 points, with keep probability set.",
        "Not decided: tutorial 01's 15 seeds could not tell them apart.",
        "Partly: it went from 0.95 to 0.93 of reliance, which is not decided.",
    ],
)
def test_a_plain_verdict_passes(text):
    assert verdict_problems(text) == []
    Recorder("98_v", "V", ["q"]).verdict(text)


# --- over the quick profile's results -----------------------------------------------------------


def quick_results(reports) -> list[dict]:
    found = [json.loads(p.read_text()) for p in sorted(reports.glob("runs/*/results/*.json"))]
    assert found, f"no results under {reports}"
    return found


def test_quick_profile_no_claim_holds_without_its_adjusted_p_value(quick_reports):
    for results in quick_results(quick_reports):
        where = results["notebook"]
        compared = [c for c in results["claims"] if "expect" in c]
        tested = [c for c in compared if c["p"] is not None]
        assert results["comparisons"] == len(tested), where
        assert [c["p_adjusted"] for c in tested] == pytest.approx(
            stats.adjusted_p([c["p"] for c in tested]), abs=1e-12
        ), where
        for claim in compared:
            assert claim["status"] == stats.claim_status(claim), (where, claim["name"])
            if claim["status"] == stats.HELD:
                assert claim["p_adjusted"] < 0.05, (where, claim["name"])
        assert verdict_problems(results["verdict"]["text"]) == [], where


def test_quick_profile_equivalence_sentences_name_their_direction(quick_reports):
    for results in quick_results(quick_reports):
        for claim in results["claims"]:
            if claim.get("expect") != "equal" or claim["interval"] is None:
                continue
            low, high = claim["interval"]
            if low <= 0 <= high:
                continue
            way = "higher" if low > 0 else "lower"
            measured = claim["text"].removeprefix(f"{claim['expected']}: ").split(":")[0]
            assert way in measured, (results["notebook"], claim["name"], claim["text"])


def test_a_dropout_label_in_plain_words_passes_the_verdict_rules():
    assert dropout_label(0.3) == "dropout rate 0.3 (keep_prob 0.7)"
    assert dropout_label(0.3, course=False) == "dropout rate 0.3"
    assert verdict_problems(f"Yes: with {dropout_label(0.3, course=False)}.") == []
    assert verdict_problems(f"Yes: with {dropout_label(0.3)}.") != []
