import json
import shutil
import subprocess

import pytest

from nnreg_keras.exceptions import NotebookError, ParameterError
from nnreg_keras.pipeline import cli, report
from nnreg_keras.pipeline.runner import Layout, pick, run
from tests.conftest import write_notebook

BODY = """
from nnreg_keras.rules import check_parameters
from nnreg_keras.recording import Recorder
import matplotlib.pyplot as plt
params = check_parameters("99_new", dict(dropout_rate=dropout_rate, seeds=seeds, title=title))
if fail:
    raise RuntimeError("this notebook was asked to fail")
rec = Recorder("99_new", title=title, questions=["Is the network smaller after training?"],
               parameters=params, seeds=seeds)
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
rec.add_figure(fig, "bars", caption="Two bars.", alt="Two bars, the second taller.")
rec.add_table("Rates", ["rate"], [[dropout_rate]])
rec.verdict(f"The rate was {dropout_rate}.")
rec.write()
"""
PARAMS = 'dropout_rate = 0.5  # a rate\nseeds = [0]  # seeds\ntitle = "A new tutorial"  # title\nfail = False  # fail on purpose'


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
    (tmp_path / "params" / "bad.yaml").write_text(f"{stem}:\n  seeds: [0, 0]\n")
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
    assert f"error: notebook {stem}:" in done.stderr and "'seeds' = [0, 0]" in done.stderr
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
