import json
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnreg_keras.exceptions import ResultsError
from nnreg_keras.pipeline.contract import load, validate
from nnreg_keras.recording import Recorder, plain


def make_recorder(tmp_path, monkeypatch, notebook="01_demo"):
    monkeypatch.setenv("NNREG_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("NNREG_NOTEBOOK", notebook)
    monkeypatch.setenv("NNREG_PROFILE", "quick")
    rec = Recorder(
        "ignored_when_run_by_the_runner",
        title="Demo",
        questions=["Why?"],
        parameters={"rate": np.float32(0.5), "seeds": (0, 1)},
        seeds=[0, 1],
    )
    rec.add_table("A table", ["model", "accuracy"], [["wide", np.float64(0.9)]])
    rec.add_metrics(accuracy=np.float64(0.9), count=np.int64(3))
    rec.claim("works", True, "It works: {acc:.1f}.", "It does not work: {acc:.1f}.", acc=0.9)
    rec.verdict(True, "Yes: {acc:.0%}.", "No: only {acc:.0%}.", acc=0.9)
    return rec


def test_recorder_writes_a_valid_file_where_the_runner_says(tmp_path, monkeypatch):
    rec = make_recorder(tmp_path, monkeypatch)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    rec.add_figure(fig, "line", caption="A line.", alt="A falling line.")
    rec.write()
    path = rec.results_path
    assert path == tmp_path / "results" / "01_demo.json"
    data = load(path)
    assert data["notebook"] == "01_demo" and data["profile"] == "quick"
    assert data["parameters"] == {"rate": 0.5, "seeds": [0, 1]}
    assert data["metrics"] == {"accuracy": 0.9, "count": 3, "claim_works": 1}
    assert data["figures"] == [
        {"file": "figures/01_demo/line.svg", "caption": "A line.", "alt": "A falling line."}
    ]
    assert data["claims"] == [
        {
            "name": "works",
            "held": True,
            "text": "It works: 0.9.",
            "alternative": "It does not work: 0.9.",
            "numbers": {"acc": 0.9},
        }
    ]
    assert data["verdict"] == {
        "held": True,
        "text": "Yes: 90%.",
        "alternative": "No: only 90%.",
        "numbers": {"acc": 0.9},
    }
    assert (tmp_path / "figures" / "01_demo" / "line.svg").read_text().count("<svg") == 1
    assert data["environment"]["keras_backend"] in {"tensorflow", "jax", "torch", "numpy"}


def test_same_content_gives_same_bytes(tmp_path, monkeypatch):
    first, second = (
        make_recorder(tmp_path / "a", monkeypatch),
        make_recorder(tmp_path / "b", monkeypatch),
    )
    first.write()
    second.write()
    assert first.results_path.read_bytes() == second.results_path.read_bytes()


FIGURE_SCRIPT = """
import sys
import matplotlib.pyplot as plt
from nnreg_keras.recording import Recorder
rec = Recorder("n", title="t", questions=["q"], parameters={}, seeds=[0])
fig, ax = plt.subplots()
ax.scatter([0, 1, 2], [2, 1, 0])
ax.set_title("a scatter")
rec.add_figure(fig, "f", caption="c", alt="a")
sys.stdout.write((rec.output_dir / rec.data["figures"][0]["file"]).read_text())
"""


def test_figures_are_byte_identical_across_runs(tmp_path):
    runs = [
        subprocess.run(
            [sys.executable, "-c", FIGURE_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "NNREG_OUTPUT_DIR": str(tmp_path / str(i))},
        ).stdout
        for i in range(2)
    ]
    assert "<svg" in runs[0] and runs[0] == runs[1]


STATEMENT = {
    "held": True,
    "text": "Held: 0.9.",
    "alternative": "Did not hold: 0.9.",
    "numbers": {"a": 0.9},
}
GOOD = {
    "schema_version": 2,
    "notebook": "n",
    "title": "t",
    "questions": ["q"],
    "verdict": STATEMENT,
    "claims": [{"name": "c", **STATEMENT}],
    "tables": [],
    "figures": [],
    "metrics": {},
    "parameters": {},
    "seeds": [0],
    "profile": "p",
    "environment": {"keras_backend": "jax", "python": "3.11", "packages": {}, "git_commit": "abc"},
}


def test_validate_lists_every_problem():
    assert validate(dict(GOOD)) == GOOD
    with pytest.raises(ResultsError, match="verdict: 'text' is not of type 'object'"):
        validate({**GOOD, "verdict": "text"})
    with pytest.raises(ResultsError, match="verdict: 'alternative' has 61 words; at most 60"):
        validate({**GOOD, "verdict": {**STATEMENT, "alternative": "word " * 61}})
    with pytest.raises(ResultsError, match="metric 'x' must be a finite number"):
        validate({**GOOD, "metrics": {"x": float("nan")}})
    bad = {
        **GOOD,
        "questions": [""],
        "environment": {"python": "3.11"},
        "verdict": {**STATEMENT, "alternative": "word " * 61},
        "claims": [
            {"name": "c", **STATEMENT, "held": "yes"},
            {"name": "", **STATEMENT, "text": ""},
        ],
        "tables": [{"caption": "c", "columns": ["a", "b"], "rows": [[1]]}],
        "figures": [{"file": "f.svg", "caption": "c"}],
        "schema_version": 99,
    }
    with pytest.raises(ResultsError) as err:
        validate(bad, source="results file x.json")
    message = str(err.value)
    for part in (
        "results file x.json",
        "schema_version is 99",
        "questions[0]: '' does not match",
        "claims[0].held: 'yes' is not of type 'boolean'",
        "claims[1].name: '' does not match",
        "claims[1].text: '' does not match",
        "environment: 'git_commit' is a required property",
        "tables[0] ('c'): every row needs 2 cells",
        "figures[0]: 'alt' is a required property",
        "figures[0].file: 'f.svg' does not match",
    ):
        assert part in message


def test_both_wordings_are_formatted_on_every_run(tmp_path, monkeypatch):
    rec = make_recorder(tmp_path, monkeypatch)
    with pytest.raises(
        ResultsError, match=r"claim 'typo': a wording cannot be formatted .*KeyError: 'acc'"
    ):
        rec.claim("typo", True, "Held at {accuracy:.2f}.", "Not held at {acc:.2f}.", accuracy=0.9)
    with pytest.raises(ResultsError, match="verdict: 'text' has 61 words; at most 60"):
        rec.verdict(False, "word " * 61, "Short enough.")
    assert rec.claim("again", False, "Rose to {v}.", "Fell to {v}.", v=3) is None
    assert (
        rec.data["metrics"]["claim_again"] == 0
        and rec.data["claims"][-1]["alternative"] == "Fell to 3."
    )


def test_a_results_file_needs_a_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("NNREG_OUTPUT_DIR", str(tmp_path))
    rec = Recorder("01_demo", title="t", questions=["q"], parameters={}, seeds=[0])
    with pytest.raises(ResultsError, match=r"no verdict; call Recorder.verdict"):
        rec.write()


def test_read_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="broken.json cannot be read"):
        load(path)


def test_plain_converts_numpy():
    assert (
        json.dumps(plain({"a": np.arange(3), "b": (np.float32(1.5),)}))
        == '{"a": [0, 1, 2], "b": [1.5]}'
    )
