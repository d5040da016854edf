"""Lesson folders: `nnreg-keras init DIR`, and where `nnreg-keras run` finds its lessons, profiles
and report when it is run from a folder other than the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline import cli, lessons, runner
from tests.conftest import ROOT, write_notebook
from tests.test_runner import BODY, PARAMS


@pytest.fixture
def shipped(tmp_path, monkeypatch) -> Path:
    """A package whose shipped lessons are one small notebook and two profiles."""
    package = tmp_path / "package"
    write_notebook(package / "tutorials" / "99_new.ipynb", PARAMS, BODY)
    nb = nbformat.read(str(package / "tutorials" / "99_new.ipynb"), as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="old\n")]
    nb.cells[2].execution_count = 3
    nbformat.write(nb, str(package / "tutorials" / "99_new.ipynb"))
    (package / "tutorials" / "README.md").write_text("# The teachers' guide\n")
    (package / "params").mkdir()
    (package / "params" / "default.yaml").write_text("99_new:\n  dropout_rate: 0.5\n")
    (package / "params" / "quick.yaml").write_text("99_new:\n  dropout_rate: 0.25\n")
    monkeypatch.setattr(lessons, "TUTORIALS", package / "tutorials")
    monkeypatch.setattr(lessons, "PARAMS", package / "params")
    monkeypatch.setattr(runner, "lesson_stems", lambda: ["99_new"])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return package


def test_init_writes_a_lesson_folder_without_outputs(shipped, capsys):
    assert cli.main(["init", "lessons"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "wrote lessons/: 1 notebooks and the teachers' guide in tutorials/, the profiles in "
        "params/, README.md",
        "next: cd lessons && nnreg-keras run --profile quick",
    ]
    folder = Path("lessons")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "params/default.yaml",
        "params/quick.yaml",
        "tutorials/99_new.ipynb",
        "tutorials/README.md",
    ]
    nb = nbformat.read(str(folder / "tutorials" / "99_new.ipynb"), as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if "outputs" in c)
    readme = (folder / "README.md").read_text()
    assert "nnreg-keras run --profile quick" in readme and "pip install nnreg_keras" in readme
    assert "nnreg-keras run 99 -p dropout_rate 0.2" in readme


def test_init_writes_over_nothing(shipped, capsys):
    Path("lessons/tutorials").mkdir(parents=True)
    assert cli.main(["init", "lessons"]) == 2
    assert capsys.readouterr().err == (
        "error: lessons already has tutorials; nothing was written (choose a new directory)\n"
    )
    assert sorted(p.name for p in Path("lessons").iterdir()) == ["tutorials"]


def test_a_lesson_folder_runs_and_reports_from_its_own_directory(shipped, monkeypatch, capsys):
    lessons.init(Path("lessons"))
    monkeypatch.chdir("lessons")
    assert cli.main(["run", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert "[1/1] 99_new (profile quick) done in" in out
    assert out.endswith("report written to reports/index.html\n")
    assert "lessons:" not in out  # the usual place says nothing
    assert Path("reports/.profile").read_text() == "quick\n"
    stamp = json.loads(Path("reports/runs/99_new/run.json").read_text())
    assert stamp["parameters"]["dropout_rate"] == 0.25


def test_a_one_off_run_keeps_the_last_profile_and_rebuilds_the_report(shipped, capsys):
    lessons.init(Path("."))  # the current directory is the lesson folder
    assert cli.main(["run", "--profile", "quick", "--no-report"]) == 0
    assert not Path("reports/index.html").exists()
    assert cli.main(["run", "99", "-p", "title", "Changed"]) == 0
    out = capsys.readouterr().out
    assert "99_new (profile quick, one-off: -p title Changed) done" in out
    stamp = json.loads(Path("reports/runs/99_new+one-off/run.json").read_text())  # beside it
    assert stamp["profile"] == "quick" and stamp["overrides"] == {"title": "Changed"}
    assert json.loads(Path("reports/runs/99_new/run.json").read_text())["overrides"] == {}
    assert stamp["parameters"]["dropout_rate"] == 0.25  # the quick profile's, not the default's
    html = Path("reports/index.html").read_text()
    assert "Changed" in html and "--profile quick -p title" in html
    assert Path("reports/.profile").read_text() == "quick\n"  # a one-off run does not change it


def test_without_lessons_here_the_package_lessons_run_and_report_here(
    shipped, tmp_path, monkeypatch, capsys
):
    """Also with another `python3` kernel spec installed: the kernel is the Python of the command."""
    elsewhere = tmp_path / "jupyter" / "kernels" / "python3"
    elsewhere.mkdir(parents=True)
    argv = ["/no/such/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Another Python", "language": "python"}
    (elsewhere / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    assert cli.main(["run", "99", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"lessons: the copy installed with the package ({shipped / 'tutorials'}), as there is no "
        "tutorials/ here; reports to reports/ here (`nnreg-keras init DIR` writes the lessons out"
    )
    assert Path("reports/runs/99_new/run.json").is_file() and Path("reports/index.html").is_file()
    assert not (shipped / "reports").exists()


def test_notebooks_saved_in_a_folder_of_their_own_run_there(shipped, capsys):
    shutil.copy(shipped / "tutorials" / "99_new.ipynb", "99_new.ipynb")
    assert cli.main(["run", "99"]) == 0  # no params/ here: the package's profiles
    out = capsys.readouterr().out
    assert out.startswith("lessons: the notebooks of this directory; reports to reports/\n")
    assert "99_new (profile default) done" in out
    assert Path("reports/runs/99_new/run.json").is_file()


def test_find_names_where_the_lessons_are(shipped, monkeypatch):
    found = lessons.find()
    assert (found.tutorials, found.params, found.found) == (
        shipped / "tutorials",
        shipped / "params",
        "package",
    )
    lessons.init(Path("mine"))
    found = lessons.find(Path("mine/tutorials"))
    assert (found.params, found.reports, found.note()) == (
        Path("mine/params"),
        Path("reports"),
        None,
    )
    monkeypatch.chdir("mine/tutorials")  # a command run from inside a notebook of the folder
    found = lessons.find()
    assert (found.tutorials, found.params, found.reports) == (
        Path("."),
        Path("../params"),
        Path("../reports"),
    )
    folder = Path.cwd().parent
    assert found.note() == f"lessons: the lesson folder {folder}; reports to {folder}/reports/"


def test_a_profile_may_name_shipped_lessons_this_folder_does_not_hold(shipped, monkeypatch):
    lessons.init(Path("."))
    Path("params/quick.yaml").write_text(
        "99_new:\n  dropout_rate: 0.25\n01_dropout_is_not_a_smaller_network:\n  steps: 100\n"
    )
    monkeypatch.setattr(runner, "lesson_stems", lambda: ["01_dropout_is_not_a_smaller_network"])
    layout = runner.Layout(Path("tutorials"), Path("params"), Path("reports"))
    [results] = runner.run([], "quick", layout, progress=False)
    assert results["parameters"]["dropout_rate"] == 0.25
    Path("params/quick.yaml").write_text("99_nwe:\n  dropout_rate: 0.25\n")  # a typo
    with pytest.raises(NnregError, match="names notebooks that do not exist: 99_nwe"):
        runner.run([], "quick", layout, progress=False)


def test_the_last_profile_is_the_one_reports_remember(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "quick.yaml").write_text("")
    reports = tmp_path / "reports"
    assert lessons.last_profile(reports, tmp_path / "params") == "default"
    lessons.remember_profile(reports, "quick")
    assert lessons.last_profile(reports, tmp_path / "params") == "quick"
    lessons.remember_profile(reports, "gone")  # a profile whose file was removed since
    assert lessons.last_profile(reports, tmp_path / "params") == "default"


@pytest.fixture
def make_copy(tmp_path) -> Path:
    """The Makefile beside links to this checkout's lessons and environment, for `make -n`."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy(ROOT / "Makefile", copy / "Makefile")
    for name in (
        "tutorials",
        "params",
        "templates",
        "nnreg_keras",
        ".venv",
        "requirements.txt",
        "pyproject.toml",
    ):
        (copy / name).symlink_to(ROOT / name)
    return copy


def planned_runs(directory: Path, *goals: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", "-C", str(directory), *goals], capture_output=True, text=True, check=True
    )
    return [line for line in done.stdout.splitlines() if " -m nnreg_keras run " in line]


def test_make_runs_one_notebook_with_the_profile_of_the_last_report(make_copy):
    target = "reports/runs/01_dropout_is_not_a_smaller_network/run.json"
    (make_copy / "reports").mkdir()
    (make_copy / "reports" / ".profile").write_text("quick\n")
    [one] = planned_runs(make_copy, target)
    assert "--profile quick" in one and one.endswith("--no-report")
    [one] = planned_runs(make_copy, target, "PROFILE=default")
    assert "--profile default" in one
    assert all("--profile default" in line for line in planned_runs(make_copy, "report"))
