"""Bad input and faults, end to end through `python -m nnreg_keras` and `make`.

Every case asserts the exit status, a one-screen message without a traceback, and that reports/
still holds exactly the previous report, with nothing left behind (see tests/faults_kit.py). One
small notebook (`99_tiny`) serves every case; its `mode` parameter chooses the fault. The other
fault modules: test_faults_state.py (reports/ corrupt, missing, of the wrong type, left by a kill),
test_faults_injection.py (hostile strings on the way to HTML), test_faults_inputs.py (huge, special
or wrongly encoded inputs, other directories and environments).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnreg_keras.pipeline import contract, report
from tests import faults_kit as kit
from tests.faults_kit import STEM, assert_one_screen, assert_previous_report, snapshot

# Bad input: stopped before any kernel starts, exit status 2.
BAD_INPUT = [
    (
        ["-p", "learning_rate", "inf"],
        "parameter 'learning_rate' = 'inf': accepted a number in (0, inf)",
    ),
    (["-p", "l2", "-1e-3"], "parameter 'l2' = '-1e-3': accepted a number in [0, inf)"),
    (
        ["-p", "hidden_units", "[4, 0]"],
        "parameter 'hidden_units' = [4, 0]: accepted a list of at least 1 item",
    ),
    (["-p", "mode", "explode"], "parameter 'mode' = 'explode': accepted one of \"ok\", \"fail\""),
    (["-p", "data_path", "mydata"], "mydata is a directory)"),
    (["-p", "data_path", "mydata/none.csv"], "mydata/none.csv does not exist)"),
    (
        ["--profile", "nope"],
        "profile file params/nope.yaml does not exist; available profiles: quick",
    ),
    (["42"], "no single notebook matches '42'; notebooks: 99_tiny"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_refused_before_any_kernel_starts(project, args, message):
    (project.path / "mydata").mkdir()
    before = snapshot(project.reports)
    # In this process (the same entry point, parsing, messages and exit status): a refusal comes
    # before any kernel, so no interpreter need start. tests/test_faults_inputs.py runs one
    # refusal through `python -m nnreg_keras` itself.
    done = (
        project.main("run", "99", "--profile", "quick", *args)
        if args[0] != "42"
        else project.main("run", *args, "--profile", "quick")
    )
    assert_one_screen(done, 2, message)
    (project.path / "mydata").rmdir()
    assert_previous_report(project, before)


@pytest.mark.parametrize(
    "profile, message",
    [
        ("99_tiny: [1, 2\n", "is not valid YAML"),
        (
            "07_missing:\n  steps: 3\n",
            "names notebooks that do not exist: 07_missing; notebooks: 99_tiny",
        ),
        (
            "99_tiny:\n  learning_rate: 1e-3\n  steps: 1000001\n",
            "'steps' = 1000001: accepted an integer in [1, 1,000,000]",
        ),
    ],
)
def test_a_bad_profile_stops_make_and_keeps_the_report(project, profile, message):
    (project.path / "params" / "quick.yaml").write_text(profile)
    before = snapshot(project.reports)
    done = project.make("report", "PROFILE=quick")
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert_previous_report(project, before)


@pytest.mark.parametrize(
    "args, status, message",
    [
        (
            ["-p", "mode", "fail"],
            3,
            "notebook 99_tiny failed in cell 3: RuntimeError: this notebook was asked to fail",
        ),
        (["-p", "mode", "die"], 3, "notebook 99_tiny: the kernel died while running"),
        (
            ["-p", "mode", "sleep", "--cell-timeout", "5"],
            3,
            "a cell ran longer than 5 s (--cell-timeout)",
        ),
        (["-p", "learning_rate", "1e6"], 4, "training diverged: model 'numpy model' at step 20"),
        (["-p", "learning_rate", "50"], 4, "lower learning_rate, now 50"),
        (
            ["-p", "mode", "data", "-p", "data_path", "one_class.csv"],
            2,
            "every label in train labels 'y' is 1",
        ),
    ],
)
def test_a_failing_kernel_keeps_the_notebook_and_its_log(project, args, status, message):
    data = project.path / "one_class.csv"
    data.write_text("split,y,u\ntrain,1,0.5\ntrain,1,2\ntest,0,-1\n")
    before = snapshot(project.reports)
    done = project.cli("run", "99", "--profile", "quick", *args)
    err = assert_one_screen(
        done, status, message, "executed notebook kept at reports/failed/99_tiny.ipynb"
    )
    assert "kernel log at reports/failed/99_tiny.kernel.log" in err
    data.unlink()
    assert_previous_report(project, before, failed=True)
    log = (project.reports / "failed" / f"{STEM}.kernel.log").read_text()
    assert log.startswith("# nnreg_keras: kernel log of a failed run of notebook 99_tiny\n")


# A kernel that dies before it answers (two kernels started side by side can race for a port):
# a script that fails on purpose as long as its flag file says so, then starts the real kernel.
FLAKY_KERNEL = """import os, runpy, sys
flag = sys.argv.pop(1)
if os.path.exists(flag):
    with open(flag) as file:
        once = file.read() == "once"
    if once:
        os.remove(flag)
    sys.exit("this kernel dies at start on purpose")
sys.argv[0] = "ipykernel_launcher"
runpy.run_module("ipykernel_launcher", run_name="__main__")
"""


@pytest.mark.parametrize("fails", ["once", "always"])
def test_a_kernel_that_dies_at_start_is_started_once_more(project, tmp_path, monkeypatch, fails):
    from nnreg_keras.pipeline import runner

    script, flag = tmp_path / "flaky_kernel.py", tmp_path / "flag"
    script.write_text(FLAKY_KERNEL)
    flag.write_text(fails)
    argv = runner.kernel_argv()
    monkeypatch.setattr(runner, "kernel_argv", lambda: [argv[0], str(script), str(flag), *argv[3:]])
    before = snapshot(project.reports)
    done = project.main("run", "99", "--profile", "quick")
    note = "note: the kernel of notebook 99_tiny did not start (Kernel died before replying"
    assert note in done.stderr and "starting it once more" in done.stderr, done.stderr
    if fails == "once":
        assert done.returncode == 0 and f"{STEM} (profile quick) done in" in done.stdout, done
        assert not (project.reports / "failed").exists() and kit.leftovers(project) == []
        return
    assert_one_screen(
        done,
        3,
        "notebook 99_tiny: its kernel did not start, twice (Kernel died before replying",
        "executed notebook kept at reports/failed/99_tiny.ipynb",
    )
    assert_previous_report(project, before, failed=True)
    log = (project.reports / "failed" / f"{STEM}.kernel.log").read_text()
    assert log.count("this kernel dies at start on purpose") == 2, log


def test_results_that_break_the_contract_are_not_published(project):
    before = snapshot(project.reports)
    done = project.cli("run", "99", "--profile", "quick", "-p", "mode", "bad_results")
    assert_one_screen(
        done,
        5,
        "results file the new run of 99_tiny/results/99_tiny.json breaks the results contract",
        "'title' is a required property",
        "so it did not replace the landed run; repair the notebook",
    )
    assert_previous_report(project, before, failed=True)


def test_a_broken_results_file_stops_the_report_build(project):
    reports = project.reports
    (reports / "runs" / STEM / "results" / f"{STEM}.json").write_text('{"schema_version": 2}')
    before = snapshot(reports)
    assert_one_screen(
        project.cli("report"),
        5,
        "'verdict' is a required property",
        "rerun the notebook: nnreg-keras run 99 --profile quick",
    )
    assert_previous_report(project, before)


@pytest.mark.parametrize(
    "signum, status, message",
    [
        (signal.SIGINT, 130, "error: interrupted; the previous report is unchanged"),
        (signal.SIGTERM, 143, "error: terminated (SIGTERM); the previous report is unchanged"),
    ],
)
def test_interrupt_and_terminate_leave_no_trace(project, signum, status, message):
    before = snapshot(project.reports)
    proc = project.popen("run", "99", "--profile", "quick", "-p", "mode", "sleep")
    while not list(project.reports.glob(f".run-*/out/notebooks/{STEM}.ipynb")):
        time.sleep(0.2)  # papermill has written the notebook it executes: the kernel runs
    time.sleep(2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert_one_screen(
        subprocess.CompletedProcess(proc.args, proc.returncode, out, err), status, message
    )
    assert_previous_report(project, before)


def test_an_unwritable_reports_directory_gets_one_line(project):
    reports = project.reports
    before = snapshot(reports)
    reports.chmod(0o555)
    # root writes anywhere: without the capability to override file modes, it cannot
    args = (
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    )
    try:
        done = subprocess.run(
            [*args, sys.executable, "-m", "nnreg_keras", "run", "99", "--profile", "quick"],
            cwd=project.path,
            capture_output=True,
            text=True,
            timeout=120,
            env=kit.environment(project.temp),
        )
    finally:
        reports.chmod(0o755)
    assert_one_screen(
        done, 6, "error: cannot write reports/.run-99_tiny-", "permission denied", "permissions"
    )
    assert_previous_report(project, before)


def test_a_held_lock_is_named_or_waited_for(project):
    reports = project.reports
    before = snapshot(reports)
    with open(reports / ".locks" / f"{STEM}.lock", "w") as handle:
        handle.write("4242")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX)
        done = project.cli("run", "99", "--profile", "quick", "--no-wait")
    assert_one_screen(done, 7, "another run holds the lock on 99_tiny", "without --no-wait")
    assert_previous_report(project, before)


def test_two_make_reports_at_once_run_each_notebook_once(project):
    (project.path / "params" / "quick.yaml").write_text(f"{STEM}:\n  steps: 80\n")
    runs = [
        subprocess.Popen(
            kit.make_command(project.path, "report", "PROFILE=quick"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=kit.environment(project.temp),
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    text = "".join(out + err for out, err in outputs)
    assert text.count(f"{STEM} (profile quick) done in") == 1, text
    assert "the other run has just produced it with the same parameters" in text
    stamp = json.loads((project.reports / "runs" / STEM / "run.json").read_text())
    assert stamp["parameters"]["steps"] == 80
    assert kit.leftovers(project) == []


def test_a_one_off_run_is_labelled_and_make_replaces_it(project):
    reports = project.reports
    (reports / "runs" / STEM / "run.json").unlink()  # no baseline: the one-off takes its place
    done = project.cli("run", "99", "--profile", "quick", "-p", "learning_rate", "0.05")
    assert done.returncode == 0, done.stderr
    assert not (reports / "runs" / f"{STEM}+one-off").exists()
    html = report.build(reports).read_text()
    assert "nnreg-keras run 99 --profile quick -p learning_rate 0.05" in html
    assert (
        "one-off run with <code>learning_rate=0.05</code>" in html and "learning_rate=0.05" in html
    )
    done = project.make("report", "PROFILE=quick")
    assert f"{STEM} (profile quick) done in" in done.stdout, done.stdout + done.stderr
    stamp = json.loads((reports / "runs" / STEM / "run.json").read_text())
    assert stamp["overrides"] == {} and stamp["parameters"]["learning_rate"] == 0.1
    html = (reports / "index.html").read_text()
    assert "one-off" not in html and "nnreg-keras run 99 --profile quick</code>" in html
    assert "up to date" in project.make("report", "PROFILE=quick").stdout
    assert kit.leftovers(project) == []


def test_landing_cleans_up_and_uses_ordinary_modes(project):
    reports = project.reports
    (reports / ".run-99_tiny-killed").mkdir()  # left by a SIGKILL right after it was made
    (reports / ".run-99_tiny-killed2").mkdir()  # left by a SIGKILL while the kernel ran
    (reports / ".run-99_tiny-killed2" / ".nnreg-run").touch()
    (reports / ".run-99_tiny-killed2" / "runtime").mkdir()
    (reports / ".index.html-abc123").write_text("<!DOCTYPE")  # a report build killed
    deleted = reports / "runs" / "05_deleted"  # the run of a notebook since deleted
    deleted.mkdir()
    (deleted / "run.json").write_text("{}")
    (reports / "failed").mkdir()
    kept = {"metadata": {"papermill": {}}, "cells": []}
    (reports / "failed" / f"{STEM}.ipynb").write_text(json.dumps(kept))
    (reports / "failed" / "05_deleted.ipynb").write_text(json.dumps(kept))
    (reports / "failed" / "05_deleted.kernel.log").write_text(
        "# nnreg_keras: kernel log of a failed run of notebook 05_deleted\n"
    )
    os.umask(0o022)
    done = project.cli("run", "99", "--profile", "quick")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in reports.iterdir()) == [
        ".locks",
        ".notebooks",
        ".profile",
        "index.html",
        "runs",
    ]
    assert sorted(p.name for p in (reports / "runs").iterdir()) == [STEM]
    run_dir = reports / "runs" / STEM
    for path in [reports / "index.html", *run_dir.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    assert not (run_dir / "runtime").exists() and not (run_dir / "kernel.log").exists()
    assert report.build(reports).stat().st_mode & 0o777 == 0o644
    assert kit.leftovers(project) == []


def test_the_landed_run_has_an_offline_html_page_and_the_exercises(baseline):
    run_dir = baseline / "reports" / "runs" / STEM
    contract.load(run_dir / "results" / f"{STEM}.json")
    assert json.loads((run_dir / "run.json").read_text())["exercises"] == kit.EXERCISES
    page = (run_dir / "notebooks" / f"{STEM}.html").read_text()
    assert "It ran at 0.1 with tiny." in page
    import re

    resources = re.findall(
        r"<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"' >]+)", page
    )
    assert not [r for r in resources if r.startswith(("http://", "https://", "//"))], resources
    index = (baseline / "reports" / "index.html").read_text()
    assert f'href="runs/{STEM}/notebooks/{STEM}.html"' in index


def test_progress_stays_out_of_the_executed_notebook_and_ci_logs(baseline):
    executed = json.loads(
        (baseline / "reports" / "runs" / STEM / "notebooks" / f"{STEM}.ipynb").read_text()
    )
    outputs = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "step" not in outputs and "\\r" not in outputs
    stamp = json.loads((baseline / "reports" / "runs" / STEM / "run.json").read_text())
    assert stamp["models"] == 1 and stamp["duration"] > 0


def test_make_numbers_each_notebook_among_all(project):
    from tests.conftest import write_notebook

    write_notebook(
        project.path / "tutorials" / "98_first.ipynb",
        kit.PARAMS,
        kit.BODY.replace("99_tiny", "98_first"),
    )
    done = project.make("report", "PROFILE=quick")
    assert done.returncode == 0, done.stderr
    assert "[1/2] 98_first (profile quick) ..." in done.stdout and "[2/2]" not in done.stdout


SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="2" height="2"/></svg>'
STATEMENT = {"text": "Not held: <b>"}
VARIANTS = {
    "minimal": {},
    "everything": {
        "claims": [
            {"name": "c", "status": "did not hold", "text": "<b>", "numbers": {"x": "<b>"}},
            {
                "name": "d",
                "status": "inconclusive",
                "text": "tie",
                "difference": 1e-9,
                "interval": [-1.0, 1.0],
                "seeds": 2,
                "won": 1,
                "expect": "equal",
                "margin": 0.5,
            },
        ],
        "tables": [
            {
                "caption": "t",
                "columns": ["a", "b", "c", "d", "e"],
                "rows": [[None, True, "x", 3, 2.5e-7]],
            },
            {"caption": "empty", "columns": [], "rows": []},
        ],
        "figures": [
            {
                "file": "figures/{stem}/a.svg",
                "caption": "a",
                "alt": "a",
                "group": "g",
                "frame": "1",
            },
            {
                "file": "figures/{stem}/b.svg",
                "caption": "b",
                "alt": "b",
                "group": "g",
                "frame": "2",
            },
            {"file": "figures/{stem}/c.svg", "caption": "c", "alt": "c"},
        ],
        "metrics": {"m": 0, "n": -1.5},
        "parameters": {"list": [1, 2], "none": None, "nested": {"a": 1}},
        "exercises": "## Try it\n\n1. Change <x> & predict.",
        "seeds": [],
    },
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_schema_valid_results_file_renders(tmp_path, variant):
    stem = f"01_{variant}"
    run_dir = tmp_path / "runs" / stem
    data = {
        "schema_version": contract.SCHEMA_VERSION,
        "notebook": stem,
        "title": "T",
        "questions": ["Q?"],
        "verdict": STATEMENT,
        "claims": [],
        "tables": [],
        "figures": [],
        "metrics": {},
        "parameters": {},
        "seeds": [0],
        "profile": "quick",
        "environment": {
            "keras_backend": "jax",
            "python": "3.12",
            "packages": {},
            "git_commit": "unknown",
        },
    }
    data.update(json.loads(json.dumps(VARIANTS[variant]).replace("{stem}", stem)))
    contract.validate(data)
    for fig in data["figures"]:
        (run_dir / fig["file"]).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / fig["file"]).write_text(SVG)
    (run_dir / "results").mkdir(parents=True)
    (run_dir / "results" / f"{stem}.json").write_text(json.dumps(data))
    stamp = {"notebook": stem, "profile": "quick", "parameters": {}, "overrides": {}}
    (run_dir / "run.json").write_text(json.dumps(stamp))
    html = report.build(tmp_path).read_text()
    assert f'id="{stem.replace("_", "-")}"' in html and "Not held: &lt;b&gt;" in html
