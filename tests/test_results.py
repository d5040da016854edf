import json
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnreg_keras.exceptions import ParameterError, ResultsError
from nnreg_keras.pipeline import contract
from nnreg_keras.pipeline.contract import load, validate
from nnreg_keras.recording import NO_KERAS, Recorder, plain


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
    rec.check("works", "It works", True, "accuracy 0.9")
    rec.compare(
        "wider", "Wide beats narrow", [0.9, 0.92, 0.91], [0.8, 0.81, 0.8], scale=100, unit="points"
    )
    rec.verdict("Yes: 90%.")
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
    assert data["metrics"] == {"accuracy": 0.9, "count": 3}
    assert data["figures"] == [
        {"file": "figures/01_demo/line.svg", "caption": "A line.", "alt": "A falling line."}
    ]
    works, wider = data["claims"]
    assert works == {
        "name": "works",
        "status": "held",
        "expected": "It works",
        "text": "It works: accuracy 0.9",
    }
    assert wider["status"] == "held" and wider["seeds"] == 3 and wider["won"] == 3
    assert wider["difference"] == pytest.approx(0.1067, abs=1e-4) and wider["expect"] == "higher"
    assert wider["interval"][0] > 0 and wider["text"].startswith("Wide beats narrow: +10.67 points")
    assert data["verdict"] == {"text": "Yes: 90%."}
    assert (tmp_path / "figures" / "01_demo" / "line.svg").read_text().count("<svg") == 1
    keras = sys.modules.get("keras")  # whether this process has imported it (by other tests)
    assert data["environment"]["keras_backend"] == (keras.backend.backend() if keras else NO_KERAS)


def test_the_backend_recorded_is_that_of_the_keras_the_notebook_imported(tmp_path):
    """A notebook that never imports Keras (one that trains in numpy) records none, and writing
    its results does not import Keras either; one that imported it records its backend."""
    script = f"""
import os, sys
os.environ.update(NNREG_OUTPUT_DIR={str(tmp_path)!r}, NNREG_NOTEBOOK="99_numpy")
from nnreg_keras.recording import Recorder
rec = Recorder("99_numpy", "In numpy", ["Does it run?"])
rec.add_metrics(cost=0.5)
rec.verdict("It ran.")
if sys.argv[1] == "keras":
    import keras
rec.write()
print(rec.data["environment"]["keras_backend"], "keras" in sys.modules)
"""
    found = {}
    for imports in ("numpy", "keras"):
        done = subprocess.run(
            [sys.executable, "-c", script, imports], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        found[imports] = done.stdout.split()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    assert found == {
        "numpy": ["none", "(Keras", "not", "imported)", "False"],
        "keras": [backend, "True"],
    }


def test_same_content_gives_same_bytes(tmp_path, monkeypatch):
    first, second = (
        make_recorder(tmp_path / "a", monkeypatch),
        make_recorder(tmp_path / "b", monkeypatch),
    )
    first.write()
    second.write()
    assert first.results_path.read_bytes() == second.results_path.read_bytes()


def test_frames_left_out_of_the_report_are_recorded_and_a_lone_figure_cannot_be(
    tmp_path, monkeypatch
):
    rec = make_recorder(tmp_path, monkeypatch)
    for i, shown in enumerate((True, False, True)):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [i, 0])
        rec.add_figure(
            fig,
            f"f{i}",
            caption="A sweep.",
            alt="A line.",
            group="g",
            frame=f"{i}",
            in_report=shown,
        )
    assert [f.get("in_report", True) for f in rec.data["figures"]] == [True, False, True]
    assert "in_report" not in rec.data["figures"][0]  # the default is not written
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="in_report=False .* figure 'alone' has no group"):
        rec.add_figure(fig, "alone", caption="c", alt="a", in_report=False)
    rec.write()
    assert [f.get("in_report", True) for f in load(rec.results_path)["figures"]] == [
        True,
        False,
        True,
    ]


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


STATEMENT = {"text": "Held: 0.9."}
CLAIM = {"name": "c", "status": "held", "text": "Held: 0.9."}
GOOD = {
    "schema_version": 3,
    "notebook": "n",
    "title": "t",
    "questions": ["q"],
    "verdict": STATEMENT,
    "claims": [CLAIM],
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
    with pytest.raises(ResultsError, match="verdict has 61 words; at most 60"):
        validate({**GOOD, "verdict": {"text": "word " * 61}})
    crossing = {**CLAIM, "expect": "higher", "difference": 0.1, "interval": [-0.1, 0.3]}
    with pytest.raises(
        ResultsError, match="claim 'c' is 'held', but its interval .* 'inconclusive'"
    ):
        validate({**GOOD, "claims": [{**crossing, "seeds": 3, "won": 2}]})
    with pytest.raises(ResultsError, match="metric 'x' must be a finite number"):
        validate({**GOOD, "metrics": {"x": float("nan")}})
    bad = {
        **GOOD,
        "questions": [""],
        "environment": {"python": "3.11"},
        "verdict": {"text": "word " * 61},
        "claims": [
            {**CLAIM, "status": "yes"},
            {**CLAIM, "name": "", "text": ""},
        ],
        "tables": [{"caption": "c", "columns": ["a", "b"], "rows": [[1]]}],
        "figures": [{"file": "f.svg", "caption": "c"}],
        "schema_version": 99,
    }
    with pytest.raises(ResultsError) as err:
        validate(bad, source="results file x.json")
    message = str(err.value)
    expected = (
        "schema_version is 99",
        "questions[0]: '' does not match",
        "claims[0].status: 'yes' is not one of",
        "claims[1].name: '' does not match",
        "claims[1].text: '' does not match",
        "environment: 'git_commit' is a required property",
        "tables[0] ('c'): every row needs 2 cells",
        "figures[0]: 'alt' is a required property",
        "figures[0].file: 'f.svg' does not match",
    )
    assert message.startswith("results file x.json breaks the results contract")
    shown = [part for part in expected if part in message]
    assert len(shown) >= 5 and "schema_version is 99" in shown
    assert len(message.splitlines()) <= contract.PROBLEMS_SHOWN + 3 and "... and " in message


def test_claims_and_verdicts_are_checked_as_they_are_recorded(tmp_path, monkeypatch):
    rec = make_recorder(tmp_path, monkeypatch)
    with pytest.raises(ResultsError, match="verdict has 61 words; at most 60"):
        rec.verdict("word " * 61)
    with pytest.raises(ParameterError, match="one value per seed on each side, got 2 and 3"):
        rec.compare("uneven", "A beats B", [1, 2], [1, 2, 3])
    tie = rec.compare("tie", "A beats B", [0.70, 0.75, 0.68], [0.72, 0.70, 0.73])
    assert tie.status == "inconclusive" and rec.data["claims"][-1]["status"] == "inconclusive"
    assert "not decided at 3 seeds: " in rec.data["claims"][-1]["text"]
    assert rec.check("again", "It rose", False, "it fell to 3") is None
    assert rec.data["claims"][-1]["status"] == "did not hold"


def test_a_results_file_needs_a_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("NNREG_OUTPUT_DIR", str(tmp_path))
    rec = Recorder("01_demo", title="t", questions=["q"], parameters={}, seeds=[0])
    with pytest.raises(ResultsError, match=r"no verdict; call Recorder.verdict"):
        rec.write()


def test_read_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="broken.json is not valid JSON"):
        load(path)


def test_plain_converts_numpy():
    assert (
        json.dumps(plain({"a": np.arange(3), "b": (np.float32(1.5),)}))
        == '{"a": [0, 1, 2], "b": [1.5]}'
    )


WRONG_TYPES = [True, 3, 2.5, "x", None, {}, [], {"a": [1]}, [True], [{"rows": True}]]


@pytest.mark.parametrize("wrong", WRONG_TYPES, ids=repr)
def test_a_field_of_the_wrong_type_anywhere_is_a_contract_error_never_a_crash(
    tmp_path, monkeypatch, wrong
):
    """Every top-level field, and every field of a table, a claim and the verdict, replaced by a
    value of another type: validation names it (ResultsError) and raises nothing else."""
    rec = make_recorder(tmp_path, monkeypatch)
    rec.write()
    good = json.loads(rec.results_path.read_text())
    variants = [{**good, key: wrong} for key in good]
    variants += [
        {**good, "tables": [{**good["tables"][0], key: wrong}]} for key in good["tables"][0]
    ]
    variants += [
        {**good, "claims": [{**good["claims"][1], key: wrong}]} for key in good["claims"][1]
    ]
    variants += [{**good, "verdict": {"text": wrong}}]
    for results in variants:
        try:
            validate(results)
        except ResultsError:
            pass


def test_validation_loads_jsonschema_without_the_iri_grammar_it_never_uses():
    """A process's first validation leaves out jsonschema's "iri" format (0.8 s of grammar
    building as rfc3987_syntax is imported); a later import of that module still works."""
    code = """import sys
from nnreg_keras.exceptions import ResultsError
from nnreg_keras.pipeline.contract import validate
try:
    validate({})
except ResultsError as err:
    print("refused:", "'title' is a required property" in str(err))
print("loaded:", "rfc3987_syntax" in sys.modules)
import rfc3987_syntax
print("importable:", rfc3987_syntax.is_valid_syntax("iri", "https://example.org/x"))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split("\n")[:3] == ["refused: True", "loaded: False", "importable: True"], (
        done.stdout + done.stderr
    )
