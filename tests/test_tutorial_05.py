"""Tutorial 05 on the quick profile: the "when to use which" table, the validated strengths and the
explorable sweep figure."""

import re
from pathlib import Path

import pytest

from nnreg_keras.pipeline.contract import load
from tests.conftest import landed

STEM = "05_how_much_and_which"
CHOICES = {"none", "L2", "dropout", "L2 + dropout", "standardise + L2"}


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.mark.notebooks
def test_the_first_table_is_when_to_use_which_with_one_row_per_situation(results):
    table = results["tables"][0]
    assert table["caption"].startswith("When to use which")
    assert table["columns"] == [
        "situation",
        "winner",
        "margin over the runner-up",
        "runner-up",
        "seeds won",
    ]
    situations = [row[0] for row in table["rows"]]
    assert len(situations) == len(set(situations)) == results["metrics"]["situations"]
    for needed in (
        "little data",
        "much data",
        "small net",
        "large net",
        "features in mixed units",
        "digits",
    ):
        assert any(needed in s for s in situations), needed
    seeds = len(results["seeds"])
    for _, winner, margin, runner_up, won in table["rows"]:
        assert winner in CHOICES and runner_up in CHOICES and winner != runner_up
        assert float(margin.split(" ± ")[0]) >= 0  # the winner has the best mean
        k, n = re.fullmatch(r"(\d+) of (\d+)", won).groups()
        assert int(n) == seeds and 0 <= int(k) <= seeds
    assert results["metrics"]["regularizer_wins"] == sum(row[1] != "none" for row in table["rows"])


@pytest.mark.notebooks
def test_validated_strengths_come_from_the_grids_and_are_in_the_metrics(results):
    m, p = results["metrics"], results["parameters"]
    assert m["field_best_l2"] in p["l2s"] and m["field_best_dropout_rate"] in p["dropout_rates"]
    assert (
        m["digits_best_l2"] in p["digits_l2s"]
        and m["digits_best_dropout_rate"] in p["digits_dropout_rates"]
    )
    assert 0.5 < m["field_test_accuracy_l2"] < 1 and 0.5 < m["digits_test_accuracy_dropout"] <= 1
    assert m["validated_width"] in p["widths"]
    strengths = results["tables"][2]
    assert strengths["caption"].startswith("The validated strengths")
    assert [row[:2] for row in strengths["rows"]] == [
        ["2-D field", "L2"],
        ["2-D field", "dropout"],
        ["digits", "L2"],
        ["digits", "dropout"],
    ]


@pytest.mark.notebooks
def test_every_experiment_records_its_claim_worded_both_ways(results):
    names = {c["name"] for c in results["claims"]}
    assert names == {
        "field_validated_beat_none",
        "field_combined_no_better",
        "capacity",
        "smaller_net_suffices",
        "field_gain_shrinks_with_data",
        "digits_validated_beat_none",
        "digits_combined_no_better",
        "digits_gain_shrinks_with_data",
        "standardising_helps_l2",
    }
    for claim in results["claims"]:
        assert claim["text"] != claim["alternative"]
    verdict = results["verdict"]
    m = results["metrics"]
    assert (
        f"L2 {m['field_best_l2']:g} (course λ" in verdict["text"]
    )  # the verdict names the validated strengths
    assert f"dropout rate {m['field_best_dropout_rate']:g} (keep_prob" in verdict["alternative"]


@pytest.mark.notebooks
def test_the_sweep_boundaries_are_one_group_of_frames_l2_beside_dropout(
    results, quick_reports: Path
):
    p = results["parameters"]
    frames = [f for f in results["figures"] if f.get("group") == "boundaries"]
    assert len(frames) == min(len(p["l2s"]), len(p["dropout_rates"]))
    positions = [results["figures"].index(f) for f in frames]
    assert positions == list(range(positions[0], positions[0] + len(frames)))  # consecutive
    for frame, l2, rate in zip(frames, p["l2s"], p["dropout_rates"], strict=False):
        assert (
            frame["frame"].startswith(f"L2 {l2:g} (course λ")
            and f"| dropout rate {rate:g} (keep_prob" in frame["frame"]
        )
        assert (quick_reports / "runs" / STEM / frame["file"]).is_file()
