"""The teachers' guide (tutorials/README.md) is enough to add a lesson: its complete example, saved
as a notebook, passes the checks every tutorial passes, runs, lands in the report, and gives a
student edition that stops at its blank."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnreg_keras.pipeline import report
from nnreg_keras.pipeline.runner import Layout, run
from nnreg_keras.pipeline.student import student_edition
from tests import test_notebooks
from tests.conftest import ROOT, landed
from tests.test_student import assert_stopped_at_a_blank, execute

GUIDE = ROOT / "tutorials" / "README.md"
EXAMPLE = "### Adding a notebook: a complete example"
STEM = "11_dropout_and_training_loss"


def example_notebook() -> nbformat.NotebookNode:
    """The guide's example: each fenced block one cell, its info string the kind and the tag."""
    section = GUIDE.read_text().split(EXAMPLE, 1)[1]
    blocks = re.findall(r"^```(markdown|python)(?: (\w+))?\n(.*?)^```$", section, re.M | re.S)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, tag, source in blocks:
        new = nbformat.v4.new_code_cell if kind == "python" else nbformat.v4.new_markdown_cell
        cell = new(source.rstrip("\n"))
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    return nb


@pytest.fixture(scope="module")
def lesson(tmp_path_factory) -> Path:
    tutorials = tmp_path_factory.mktemp("guide") / "tutorials"
    tutorials.mkdir()
    path = tutorials / f"{STEM}.ipynb"
    nbformat.write(example_notebook(), str(path))
    return path


def test_the_example_is_a_whole_lesson(lesson: Path):
    nb = nbformat.read(str(lesson), as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags.count(["parameters"]) == tags.count(["check"]) == tags.count(["exercises"]) == 1
    assert "### BEGIN SOLUTION" in "".join(c.source for c in nb.cells)
    test_notebooks.test_committed_without_outputs_and_with_parameters(lesson)
    test_notebooks.test_code_cells_stay_short(lesson)
    test_notebooks.test_papermill_lists_every_parameter_with_its_type_and_help(lesson)
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--config", str(ROOT / "pyproject.toml"), str(lesson)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.notebooks
def test_the_example_runs_and_lands_in_the_report(lesson: Path, tmp_path: Path):
    params = tmp_path / "params"
    params.mkdir()
    (params / "quick.yaml").write_text(f"{STEM}:\n  steps: 200\n  seeds: [0, 1]\n")
    reports = tmp_path / "reports"
    [results] = run([], "quick", Layout(lesson.parent, params, reports), progress=False)
    assert [c["name"] for c in results["claims"]] == ["higher_training_loss"]
    assert results["verdict"]["text"].split(":")[0] in ("Yes", "No", "Not at these seeds")
    html = report.build(reports).read_text()
    assert '<section id="11-dropout-and-training-loss"' in html and "Drop less." in html
    executed = nbformat.read(str(landed(reports, STEM, "notebooks", ".ipynb")), as_version=4)
    shown = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert any("<figure>" in o.get("data", {}).get("text/html", "") for o in shown)


@pytest.mark.notebooks
def test_the_examples_student_edition_stops_at_its_blank(lesson: Path, tmp_path: Path):
    edition = student_edition(nbformat.read(str(lesson), as_version=4))
    executed, error = execute(edition, tmp_path, {"steps": 100, "seeds": [0]})
    assert error is not None
    assert_stopped_at_a_blank(executed, edition)
