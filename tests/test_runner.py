import json
import shutil
import subprocess

import pytest

from nnreg_keras.exceptions import NotebookError, ParameterError
from nnreg_keras.pipeline import cli, report
from nnreg_keras.pipeline.runner import Layout, pick, run
from tests.conftest import write_notebook

BODY = """
from nnreg_keras.recording import Recorder
import matplotlib.pyplot as plt
params = dict(dropout_rate=dropout_rate, seeds=seeds, title=title)
if fail:
    raise RuntimeError("this notebook was asked to fail")
if stop:
    import sys
    sys.exit(0)
rec = Recorder("99_new", title=title, questions=["Is the network smaller after training?"],
               parameters=params, seeds=seeds)
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
rec.add_figure(fig, "bars", caption="Two bars.", alt="Two bars, the second taller.")
rec.add_table("Rates", ["rate"], [[dropout_rate]])
rec.verdict(f"The rate was {dropout_rate}.")
rec.write()
"""
PARAMS = """dropout_rate: float = 0.5  # a rate; in [0, 1)
seeds: list[int] = [0]  # seeds; each in [0, 2**31); at least 1
title: str = "A new tutorial"  # title
fail: bool = False  # fail on purpose
stop: bool = False  # stop early with sys.exit(0)"""


@pytest.fixture
def layout(tmp_path):
    layout = Layout(tmp_path / "tutorials", tmp_path / "params", tmp_path / "reports")
    write_notebook(layout.tutorials / "99_new.ipynb", PARAMS, BODY)
    layout.params.mkdir()
    (layout.params / "quick.yaml").write_text("99_new:\n  dropout_rate: 0.25\n")
    return layout


def test_a_dropped_in_notebook_appears_in_the_report(layout):
    (layout.params / "quick.yaml").write_text(
        '99_new:\n  dropout_rate: 0.25\n  title: "<em>New</em> & improved"\n'
    )
    [results] = run(["99"], "quick", layout, progress=False)
    assert results["parameters"]["dropout_rate"] == 0.25 and results["profile"] == "quick"
    reports = layout.reports
    assert sorted(p.name for p in reports.iterdir()) == [".locks", "runs"]  # no temp dirs left
    landed = layout.run_dir("99_new")
    assert sorted(p.name for p in landed.iterdir()) == [
        "figures",
        "notebooks",
        "results",
        "run.json",
    ]
    executed = json.loads((landed / "notebooks" / "99_new.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["dropout_rate"] == 0.25
    html = report.build(reports).read_text()
    assert '<section id="99-new"' in html and "The rate was 0.25." in html
    assert "&lt;em&gt;New&lt;/em&gt; &amp; improved" in html


def test_bad_parameters_stop_before_execution(layout):
    (layout.params / "quick.yaml").write_text("99_new:\n  dropout_rate: 1.5\n  colour: red\n")
    with pytest.raises(ParameterError) as err:
        run([], "quick", layout, progress=False)
    message = str(err.value)
    assert message.startswith("notebook 99_new:")
    assert (
        "'dropout_rate' = 1.5: accepted a number in [0, 1)" in message
        and "'colour' is unknown" in message
    )
    assert not layout.reports.exists()


def test_profile_naming_a_missing_notebook(layout):
    (layout.params / "quick.yaml").write_text("07_missing:\n  steps: 3\n")
    with pytest.raises(
        ParameterError, match="names notebooks that do not exist: 07_missing; notebooks: 99_new"
    ):
        run([], "quick", layout, progress=False)
    with pytest.raises(ParameterError, match="available profiles: quick"):
        run([], "nope", layout, progress=False)


def test_a_failing_notebook_keeps_previous_outputs(layout):
    run([], "quick", layout, progress=False)
    before = (layout.run_dir("99_new") / "results" / "99_new.json").read_bytes()
    with pytest.raises(NotebookError, match="RuntimeError: this notebook was asked to fail") as err:
        run([], "quick", layout, extra={"fail": True}, progress=False)
    assert "executed notebook kept at" in str(err.value)
    assert (layout.run_dir("99_new") / "results" / "99_new.json").read_bytes() == before
    assert (layout.reports / "failed" / "99_new.ipynb").is_file()
    assert not [p for p in layout.reports.iterdir() if p.name.startswith(".run-")]


def test_a_run_is_checked_whole_before_it_replaces_the_landed_one(layout, monkeypatch):
    """A figure over the size limit is found in the new run, not after it has landed."""
    from nnreg_keras.exceptions import ResultsError
    from nnreg_keras.pipeline import landing

    run([], "quick", layout, progress=False)
    before = (layout.run_dir("99_new") / landing.STAMP).read_bytes()
    monkeypatch.setattr(landing, "FIGURE_BYTES", 100)
    with pytest.raises(ResultsError) as err:
        run([], "quick", layout, extra={"title": "again"}, progress=False)
    message = str(err.value)
    assert "figure file the new run of 99_new/figures/99_new/bars.svg" in message
    assert "so it did not replace the landed run; repair the notebook" in message
    assert "nnreg-keras run" not in message and ".run-" not in message
    assert (layout.run_dir("99_new") / landing.STAMP).read_bytes() == before
    assert (layout.reports / "failed" / "99_new.ipynb").is_file()


def test_a_notebook_that_stops_early_is_a_notebook_error_naming_no_private_path(layout):
    run([], "quick", layout, progress=False)
    with pytest.raises(NotebookError) as err:
        run([], "quick", layout, extra={"stop": True}, progress=False)
    message = str(err.value)
    assert message.startswith("notebook 99_new ran to its end without writing its results")
    assert ".run-" not in message and "executed notebook kept at" in message
    assert err.value.exit_code == 3


def test_the_pipeline_imports_where_fcntl_does_not_exist():
    script = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import nnreg_keras.pipeline.cli, nnreg_keras.pipeline.runner, nnreg_keras.pipeline.report\n"
        "from nnreg_keras.pipeline import landing\n"
        "import tempfile, pathlib\n"
        "with landing.lock(pathlib.Path(tempfile.mkdtemp()), 'x'):\n"
        "    print('locked')"
    )
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "locked\n", done.stderr


def test_the_pipeline_modules_import_no_cycle():
    import ast
    from pathlib import Path

    folder = Path(report.__file__).parent
    imports = {}
    for path in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "nnreg_keras.pipeline":
                    found |= {a.name for a in node.names}
                elif node.module.startswith("nnreg_keras.pipeline."):
                    found.add(node.module.split(".")[2])
        imports[path.stem] = found - {path.stem}

    def reaches(start, seen=()):
        for nxt in imports.get(start, ()):
            if nxt in seen:
                continue
            yield nxt
            yield from reaches(nxt, (*seen, nxt))

    cycles = [m for m in imports if m in set(reaches(m))]
    assert cycles == [], cycles


def test_select_by_number_stem_or_path(tmp_path):
    notebooks = [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"]
    assert pick(notebooks, ["02"]) == [notebooks[1]]
    assert pick(notebooks, ["tutorials/01_a.ipynb", "reports/results/02_b.json"]) == notebooks
    with pytest.raises(
        ParameterError, match="no single notebook matches '03'; notebooks: 01_a, 02_b"
    ):
        pick(notebooks, ["03"])


def test_cli_reports_user_errors_in_one_screen(layout, capsys):
    (layout.params / "quick.yaml").write_text("99_new:\n  seeds: []\n")
    status = cli.main(
        [
            "run",
            "--profile",
            "quick",
            "--tutorials",
            str(layout.tutorials),
            "--params",
            str(layout.params),
            "--reports",
            str(layout.reports),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: notebook 99_new:") and "'seeds' = []" in err
    assert len(err.splitlines()) < 20 and "Traceback" not in err


def test_make_rejects_an_unknown_profile(root):
    done = subprocess.run(
        ["make", "-C", str(root), "report", "PROFILE=no_such_profile"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert (
        "PROFILE=no_such_profile: there is no params/no_such_profile.yaml; available profiles:"
        in done.stderr
    )


def test_make_stops_on_a_bad_parameter_and_keeps_the_previous_report(root, tmp_path):
    for name in ("Makefile", "requirements.txt", "pyproject.toml", "tutorials"):
        (shutil.copytree if (root / name).is_dir() else shutil.copy2)(root / name, tmp_path / name)
    (tmp_path / "params").mkdir()
    stem = sorted((root / "tutorials").glob("*.ipynb"))[0].stem
    (tmp_path / "params" / "bad.yaml").write_text(f"{stem}:\n  seeds: many\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "index.html").write_text("previous report")
    (tmp_path / "installed").touch()  # the environment counts as set up: nothing is installed
    done = subprocess.run(
        [
            "make",
            "-C",
            str(tmp_path),
            "report",
            "PROFILE=bad",
            f"VENV={root / '.venv'}",
            f"INSTALLED={tmp_path / 'installed'}",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert f"error: notebook {stem}:" in done.stderr and "'seeds' = 'many'" in done.stderr
    assert (tmp_path / "reports" / "index.html").read_text() == "previous report"
    assert not (tmp_path / "reports" / "runs").exists()


def test_progress_line_counts_models_and_estimates_from_the_previous_run(tmp_path, monkeypatch):
    from nnreg_keras import recording
    from nnreg_keras.pipeline import progress

    path = tmp_path / "progress"
    monkeypatch.setenv(recording.PROGRESS_ENV, str(path))
    for model, step, first in (("wide", 100, True), ("wide", 200, False), ("narrow", 100, True)):
        recording.note_progress(model, step, first)
    assert (
        progress.line("[1/4] 01_x", path, 12.4, {"models": 8, "duration": 40.0})
        == "[1/4] 01_x  model 2 of about 8 (narrow, step 100)  12 s of about 40 s"
    )
    assert progress.line("[1/4] 01_x", tmp_path / "none", 3.0, None) == "[1/4] 01_x  3 s"


def test_progress_lines_are_readable_at_once_and_follow_the_named_file(tmp_path, monkeypatch):
    """The progress file stays open between records: each line is there to read as soon as it is
    noted, and another NNREG_PROGRESS, or a removed file, gets a file of its own."""
    from nnreg_keras import recording

    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv(recording.PROGRESS_ENV, str(first))
    recording.note_progress("wide", 10, True)
    recording.note_progress("wide", 20, False)
    assert first.read_text() == "1\t10\twide\n0\t20\twide\n"
    monkeypatch.setenv(recording.PROGRESS_ENV, str(second))
    recording.note_progress("narrow", 10, True)
    assert second.read_text() == "1\t10\tnarrow\n"
    second.unlink()
    recording.note_progress("narrow", 20, False)
    assert second.read_text() == "0\t20\tnarrow\n"
    assert first.read_text() == "1\t10\twide\n0\t20\twide\n"
    monkeypatch.delenv(recording.PROGRESS_ENV)
    recording.note_progress("narrow", 30, False)  # no file named: nothing is written
    assert second.read_text() == "0\t20\tnarrow\n"


def test_an_exercise_keeps_the_baselines_profile_and_lands_beside_it(layout, monkeypatch, capsys):
    from nnreg_keras.pipeline import landing
    from nnreg_keras.pipeline.runner import stale

    monkeypatch.chdir(layout.tutorials.parent)
    assert cli.main(["run", "99", "--profile", "quick"]) == 0
    baseline = (layout.run_dir("99_new") / landing.STAMP).read_bytes()
    assert cli.main(["run", "99", "-p", "dropout_rate", "0.1"]) == 0  # no --profile
    one_off = layout.run_dir("99_new" + landing.ONE_OFF)
    stamp = json.loads((one_off / landing.STAMP).read_text())
    assert stamp["profile"] == "quick" and stamp["overrides"] == {"dropout_rate": 0.1}
    assert (layout.run_dir("99_new") / landing.STAMP).read_bytes() == baseline
    html = (layout.reports / "index.html").read_text()
    assert '<section id="99-new"' in html and '<section id="99-new-one-off"' in html
    assert 'One-off run beside <a href="#99-new">the profile\'s run</a>' in html
    assert "The rate was 0.25." in html and "The rate was 0.1." in html
    assert stale("quick", layout) == [] and not one_off.exists()  # the next make report
