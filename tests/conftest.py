"""Shared fixtures: the repository layout, and a way to write small notebooks for the runner."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent


def write_notebook(path: Path, parameters: str, body: str) -> Path:
    """A notebook with a tagged parameters cell followed by one code cell."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A test notebook"),
        cell,
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def root() -> Path:
    return ROOT


def landed(reports: Path, stem: str, kind: str = "results", suffix: str = ".json") -> Path:
    """A file of a notebook's landed run directory."""
    return reports / "runs" / stem / kind / f"{stem}{suffix}"


@pytest.fixture(scope="session")
def quick_reports(tmp_path_factory) -> Path:
    """Every tutorial executed once per test session with the quick profile, into a temp reports/."""
    from nnreg_keras.pipeline.runner import Layout, run

    reports = tmp_path_factory.mktemp("reports")
    only = os.environ.get("NNREG_TEST_ONLY", "").split()  # e.g. "01 03": run just those notebooks
    run(only, "quick", Layout(ROOT / "tutorials", ROOT / "params", reports), progress=False)
    return reports
