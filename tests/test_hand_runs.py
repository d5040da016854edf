"""A notebook run by hand (Jupyter, Colab, papermill alone) and the command run from a Python that
lacks the package's dependencies: no files left behind, list parameters as papermill passes them,
one line for a missing module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

from nnreg_keras.recording import Recorder
from tests.conftest import write_notebook

TYPED = (
    "seeds: list[int] = [0]  # seeds; each in [0, 2**31); at least 1\n"
    "widths: list[int] = [4]  # hidden widths; each in [1, 8192]; at least 1\n"
    "correlations: list[float] = [0.5]  # correlations; each in [0, 1]\n"
    'metric: str = "loss"  # what is measured; one of "loss", "accuracy"'
)
USES = """
print(seeds[1] + widths[1], type(correlations[0]).__name__, widths, metric)
"""


def papermill(tmp_path: Path, notebook: Path, *arguments: str, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(notebook), str(tmp_path / "out.ipynb"), *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


def outputs(path: Path) -> list[dict]:
    nb = nbformat.read(str(path), as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.notebooks
def test_papermill_alone_passes_typed_values_with_y(tmp_path):
    """Run by hand, papermill's -y passes lists as lists: the notebook converts nothing."""
    notebook = write_notebook(tmp_path / "98_hand.ipynb", TYPED, USES)
    values = "{seeds: [0, 1], widths: [4, 8], correlations: [0.9, 1.0], metric: accuracy}"
    done = papermill(tmp_path, notebook, "-y", values)
    assert done.returncode == 0, done.stderr
    printed = [o["text"] for o in outputs(tmp_path / "out.ipynb") if o.get("name") == "stdout"]
    assert printed == ["9 float [4, 8] accuracy\n"]


RECORDS = """
import matplotlib.pyplot as plt
from nnreg_keras.recording import Recorder
rec = Recorder("97_hand", title="By hand", questions=["Why?"], parameters={}, seeds=[0])
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
rec.add_figure(fig, "line", caption="A line.", alt="A falling line.")
rec.add_table("Numbers", ["n"], [[1]])
rec.check("runs", "It runs", True, "it ran")
rec.verdict("It ran by hand.")
rec.write()
"""


@pytest.mark.notebooks
def test_a_notebook_run_by_hand_saves_nothing_and_prints_no_path(tmp_path):
    notebook = write_notebook(tmp_path / "97_hand.ipynb", "steps = 1  # steps", RECORDS)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {"TMPDIR": str(temp), "NNREG_OUTPUT_DIR": ""}
    done = papermill(tmp_path, notebook, **env)
    assert done.returncode == 0, done.stderr
    shown = outputs(tmp_path / "out.ipynb")
    assert any("image/svg+xml" in o.get("data", {}) for o in shown)  # the figure, from memory
    text = json.dumps(shown)
    assert "written to" not in text and str(tmp_path) not in text
    assert not [p for p in temp.rglob("*") if "nnreg" in p.name or p.suffix in (".json", ".svg")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["97_hand.ipynb", "out.ipynb", "temp"]


def test_a_recorder_saves_only_where_it_is_asked_to(tmp_path, monkeypatch):
    monkeypatch.delenv("NNREG_OUTPUT_DIR", raising=False)
    for output_dir in (None, tmp_path / "kept"):
        rec = Recorder("96_x", "t", ["q"], {}, [0], output_dir=output_dir)
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        rec.add_figure(fig, "f", caption="c", alt="a")
        rec.verdict("Done.")
        rec.write()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*")) == [
        "kept/figures/96_x/f.svg",
        "kept/results/96_x.json",
    ]
    assert Recorder("96_x", "t", ["q"], {}, [0]).results_path is None


def test_a_python_without_the_dependencies_gets_one_line(tmp_path):
    script = (
        "import sys; sys.modules['nbformat'] = None\n"
        "from nnreg_keras.pipeline.cli import main\n"
        "sys.exit(main(['run', '01', '--tutorials', sys.argv[1]]))"
    )
    write_notebook(tmp_path / "tutorials" / "01_a.ipynb", "steps = 1  # steps", "pass")
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "tutorials")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: nbformat is not installed for {sys.executable}, so ")
    assert len(done.stderr.splitlines()) == 1
