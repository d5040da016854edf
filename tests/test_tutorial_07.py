"""Going further 07 ("spread its weights" read literally, and the controls that hide height): the
lesson's structure, its student cell and check, and what the quick profile's run measures."""

from pathlib import Path

import numpy as np
import pytest

from nnreg_keras.data import make_height
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed, solution_and_check
from tests.lesson_checks import check_lesson, decided_claims

STEM = "07_spreading_weights_and_controls"
NOTEBOOK = ROOT / "tutorials" / f"{STEM}.ipynb"
CLAIMS = {
    "network_weights_spread": "lower",
    "linear_weights_spread": "lower",
    "hiding_height_is_what_helps": "higher",
    "hiding_height_alone_helps": "higher",
}


def test_the_notebook_keeps_the_conventions():
    check_lesson(NOTEBOOK, core=False)


def run_check(source: str, check: str) -> None:
    import keras

    from nnreg_keras.models import FeatureDropout

    names = list(make_height(10, 10).feature_names)
    namespace = {"np": np, "keras": keras, "FeatureDropout": FeatureDropout, "names": names}
    namespace.update(HEIGHT=0, width=8, learning_rate=0.01)
    exec(source, namespace)
    exec(check, namespace)


def test_the_check_passes_the_solution_and_catches_dropping_every_input():
    source, check = solution_and_check(NOTEBOOK, asserts=4)
    run_check(source, check)
    everything = source.replace(
        "FeatureDropout(input_dropout, seed=seed)", "keras.layers.Dropout(0.5, seed=seed)"
    )
    with pytest.raises(AssertionError, match="never dropped"):
        run_check(everything, check)


@pytest.fixture(scope="module")
def results(quick_reports: Path) -> dict:
    return load(landed(quick_reports, STEM))


@pytest.mark.notebooks
def test_every_claim_is_decided_by_its_interval_and_the_verdict_follows(results):
    found = decided_claims(results, CLAIMS)
    first = {"held": "Yes", "did not hold": "No"}.get(
        found["linear_weights_spread"]["status"], "Not shown"
    )
    verdict = results["verdict"]["text"]
    assert verdict.startswith(f"{first} in a linear model: with input dropout")
    assert len(verdict.split()) <= 60
