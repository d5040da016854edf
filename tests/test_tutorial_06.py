"""Going further 06 (silent units, slower training, averaging dropout passes): the lesson's
structure, its student cell and check, and what the quick profile's run measures."""

from pathlib import Path

import numpy as np
import pytest

from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed, solution_and_check
from tests.lesson_checks import check_lesson, decided_claims

STEM = "06_silent_units_and_averaging"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "wide_learns_flipped_labels": "higher",
    "dropout_sparser": "higher",
    "dropout_trains_slower": "higher",
    "mc_more_accurate": "higher",
    "mc_lower_log_loss": "lower",
}


def test_the_notebook_keeps_the_conventions():
    check_lesson(NOTEBOOK, core=False)


def run_check(source: str, check: str) -> None:
    import keras

    from nnreg_keras import training
    from nnreg_keras.data import make_goalkeeper, splits

    def build(rate: float, seed: int) -> keras.Model:
        keras.utils.set_random_seed(seed)
        layers = [keras.Input(shape=(2,)), keras.layers.Dense(8, activation="relu")]
        if rate:
            layers.append(keras.layers.Dropout(rate, seed=seed))
        return keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])

    data = [splits(make_goalkeeper(60, 20, 0.1, 0), 10)]
    namespace = {"np": np, "keras": keras, "training": training, "data": data, "build": build}
    exec(source, namespace)
    exec(check, namespace)


def test_the_check_passes_the_solution_and_catches_one_pass_repeated():
    source, check = solution_and_check(NOTEBOOK, asserts=4)
    run_check(source, check)
    one_mask = source.replace("training=True", "training=False")
    with pytest.raises(AssertionError, match="new masks"):
        run_check(one_mask, check)


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_interval_and_the_verdict_follows(results):
    found = decided_claims(results, CLAIMS)
    assert "Zeros at initialization" in found["dropout_sparser"]["text"]
    verdict = results["verdict"]["text"]
    assert verdict.startswith("Trained under masks, the network left ")
    assert len(verdict.split()) <= 60
    k_table = next(t for t in results["tables"] if t["columns"][0] == "k")
    assert [row[0] for row in k_table["rows"]][0] == 1
