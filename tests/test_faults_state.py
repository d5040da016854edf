"""Faults of the state on disk: reports/ holding what the package did not write, landed files that
are corrupt, missing or of the wrong type, and what a killed run leaves.

The package deletes only what it wrote: it refuses (exit 6) a reports directory holding anything
else, before anything is written or deleted. A landed run is checked whole before the report uses
it: a damaged one stops the report (exit 5) with the command that repairs it, and make reruns it.
Every entry point undoes what a killed run left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests import faults_kit as kit
from tests.faults_kit import STEM, assert_one_screen, assert_previous_report, snapshot

RUN = Path("reports/runs") / STEM
RESULTS = RUN / "results" / f"{STEM}.json"
EXECUTED = RUN / "notebooks" / f"{STEM}.ipynb"
RERUN = "rerun the notebook: nnreg-keras run 99 --profile quick"
FOREIGN = "holds files this package did not write, and it deletes only what it wrote"
MOVE = "move them out of reports (or give --reports a new or empty directory), then run again"


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)


def fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def replace_by_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def with_figure(root: Path, content: bytes | None, name: str = "f.svg") -> None:
    """The landed results list a figure (as a run with one would); its file holds `content`."""
    edit_json(
        root / RESULTS,
        lambda d: d["figures"].append(
            {"file": f"figures/{STEM}/{name}", "caption": "A figure.", "alt": "A figure."}
        ),
    )
    if content is not None:
        write(root / RUN / "figures" / STEM / name, content)


# Entries the package did not write: refused by every command that would write or delete there.
FOREIGN_ENTRIES = {
    "a user's directory in runs/ (#1)": (
        lambda p: write(p / "reports/runs/notes/todo.txt", "mine"),
        "reports/runs/notes (a directory without run.json)",
    ),
    "a file named like a notebook's run (#2)": (
        lambda p: (shutil.rmtree(p / RUN), write(p / RUN, "x")),
        "reports/runs/99_tiny (a file, not a run directory)",
    ),
    "a file left aside by an older landing (#2)": (
        lambda p: write(p / "reports/runs/.old-99_tiny", "x"),
        "reports/runs/.old-99_tiny (a file, not a run directory)",
    ),
    "a link where a run directory goes": (
        lambda p: (shutil.rmtree(p / RUN), (p / RUN).symlink_to(p / "tutorials")),
        "reports/runs/99_tiny (a symbolic link, not a run directory)",
    ),
    "a hidden directory with a stamp in runs/": (
        lambda p: write(p / "reports/runs/.backup/run.json", "{}"),
        "reports/runs/.backup (a hidden directory, not a run directory)",
    ),
    "a FIFO in runs/": (
        lambda p: fifo(p / "reports/runs/pipe"),
        "reports/runs/pipe (a FIFO, not a run directory)",
    ),
    "reports/failed is a file (#11)": (
        lambda p: write(p / "reports/failed", "x"),
        "reports/failed (a file, not a directory)",
    ),
    "a user's file in failed/": (
        lambda p: write(p / "reports/failed/notes.txt", "mine"),
        "reports/failed/notes.txt (a file, not a notebook or kernel log a failed run left)",
    ),
    "a kernel log the package did not keep": (
        lambda p: write(p / "reports/failed/99_tiny.kernel.log", "mine"),
        "reports/failed/99_tiny.kernel.log (a file, not a notebook or kernel log",
    ),
    "a notebook papermill did not execute in failed/": (
        lambda p: write(p / "reports/failed/99_tiny.ipynb", '{"cells": []}'),
        "reports/failed/99_tiny.ipynb (a file, not a notebook or kernel log",
    ),
    "reports/.locks is a file": (
        lambda p: (shutil.rmtree(p / "reports/.locks"), write(p / "reports/.locks", "x")),
        "reports/.locks (a file, not a directory)",
    ),
    "a lock that is a directory": (
        lambda p: replace_by_directory(p / "reports/.locks/index.lock"),
        "reports/.locks/index.lock (a directory, not a lock file)",
    ),
    "index.html is a directory": (
        lambda p: replace_by_directory(p / "reports/index.html"),
        "reports/index.html (a directory, not a file)",
    ),
    "a user's file beside the report": (
        lambda p: write(p / "reports/notes.md", "mine"),
        "reports/notes.md (a file)",
    ),
    "a user's directory named like a private one": (
        lambda p: write(p / "reports/.run-mine/keep.txt", "mine"),
        "reports/.run-mine (a directory)",
    ),
}


@pytest.mark.parametrize("command", ["run", "report", "check", "report --prune"])
@pytest.mark.parametrize("setup, named", FOREIGN_ENTRIES.values(), ids=list(FOREIGN_ENTRIES))
def test_a_reports_directory_holding_others_files_is_refused(project, setup, named, command):
    setup(project.path)
    before = snapshot(project.reports)
    args = {"run": ["run", "99", "--profile", "quick"], "check": ["check", "--profile", "quick"]}
    done = project.main(*args.get(command, command.split()))
    assert_one_screen(done, 6, f"error: reports {FOREIGN}", named, MOVE)
    assert_previous_report(project, before)


def test_a_reports_directory_given_with_others_files_is_left_as_it_was(project, tmp_path):
    """#1: `--reports DIR` deleted DIR/runs/tb/ev, which it did not write."""
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "runs/tb/ev", "events")
    done = project.cli("run", "99", "--profile", "quick", "--reports", str(elsewhere))
    assert_one_screen(done, 6, f"{elsewhere} {FOREIGN}", f"{elsewhere}/runs/tb (a directory")
    assert snapshot(elsewhere) == {"runs/tb/ev": b"events"}
    done = project.cli("run", "99", "--profile", "quick", "--reports", str(project.path))
    assert_one_screen(done, 6, f"{project.path} {FOREIGN}", f"{project.path}/Makefile (a file)")
    assert kit.leftovers(project) == []


def test_a_user_directory_in_runs_stops_make_before_anything(project):
    """#1: a user's reports/runs/notes/ went at the next `make report`."""
    write(project.path / "reports/runs/notes/todo.txt", "mine")
    before = snapshot(project.reports)
    done = project.make("report", "PROFILE=quick")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"error: reports {FOREIGN}" in done.stderr and "reports/runs/notes" in done.stderr
    assert_previous_report(project, before)


# A landed run that is damaged: the report stops with the command that repairs it (exit 5), and
# `check` lists its stamp, so make reruns it.
DAMAGED = {
    "a truncated stamp (#4)": (
        lambda p: os.truncate(p / RUN / "run.json", 30),
        "run stamp reports/runs/99_tiny/run.json is not valid JSON",
    ),
    "a stamp holding [1] (#10)": (
        lambda p: write(p / RUN / "run.json", "[1]"),
        "run stamp reports/runs/99_tiny/run.json is damaged: it holds a JSON list",
    ),
    "a stamp that is not UTF-8 (#10)": (
        lambda p: write(p / RUN / "run.json", b'{"notebook": "\xff"}'),
        "run stamp reports/runs/99_tiny/run.json is not UTF-8 text (byte 0xff",
    ),
    "a stamp without its profile": (
        lambda p: edit_json(p / RUN / "run.json", lambda d: d.pop("profile")),
        "it lacks 'profile' (str)",
    ),
    "a stamp naming another notebook": (
        lambda p: edit_json(p / RUN / "run.json", lambda d: d.update(notebook="01_other")),
        "is for notebook '01_other', not 99_tiny",
    ),
    "a stamp of 2 MB": (
        lambda p: write(p / RUN / "run.json", " " * (2 << 20)),
        "holds 2.0 MB, more than the 1.0 MB accepted",
    ),
    "a stamp that is a FIFO": (
        lambda p: ((p / RUN / "run.json").unlink(), fifo(p / RUN / "run.json")),
        "run stamp reports/runs/99_tiny/run.json is a FIFO, not a file",
    ),
    "a deleted stamp": (
        lambda p: (p / RUN / "run.json").unlink(),
        "run stamp reports/runs/99_tiny/run.json does not exist",
    ),
    "a corrupt results file (#5)": (
        lambda p: write(p / RESULTS, '{"notebook": '),
        f"results file {RESULTS} is not valid JSON",
    ),
    "a results file that is not UTF-8 (#10)": (
        lambda p: write(p / RESULTS, b"\xfe\xff{}"),
        f"results file {RESULTS} is not UTF-8 text (byte 0xfe at offset 0)",
    ),
    "a results file of an older contract (a template change, #5)": (
        lambda p: edit_json(p / RESULTS, lambda d: d.update(schema_version=2)),
        "schema_version is 2, this package reads 3",
    ),
    "a results file with every field wrong": (
        lambda p: write(p / RESULTS, json.dumps({k: 0 for k in "abcdefghijklmnopqrstuvwxyz"})),
        "... and ",
    ),
    "a deleted results file": (
        lambda p: (p / RESULTS).unlink(),
        f"results file {RESULTS} does not exist",
    ),
    "a results file that is a directory": (
        lambda p: replace_by_directory(p / RESULTS),
        f"results file {RESULTS} is a directory, not a file",
    ),
    "a deleted figure (#5)": (
        lambda p: with_figure(p, None),
        "figure file reports/runs/99_tiny/figures/99_tiny/f.svg is missing",
    ),
    "a figure that is not an SVG (#10)": (
        lambda p: with_figure(p, b"GIF89a not an svg"),
        "figure file reports/runs/99_tiny/figures/99_tiny/f.svg is not an SVG image",
    ),
    "a figure that is not UTF-8": (
        lambda p: with_figure(p, b"<svg \xff>"),
        "f.svg is not UTF-8 text (byte 0xff",
    ),
    "a PNG figure that is not a PNG": (
        lambda p: with_figure(p, b"<svg/>", "f.png"),
        "f.png is not a PNG image of at most 64 MB",
    ),
    "a figure that is a link to a file elsewhere": (
        lambda p: (
            with_figure(p, None),
            (p / RUN / "figures" / STEM).mkdir(parents=True),
            (p / RUN / "figures" / STEM / "f.svg").symlink_to("/etc/hostname"),
        ),
        "f.svg is a symbolic link, not a file",
    ),
    "an executed notebook that is not UTF-8 (#10)": (
        lambda p: write(p / EXECUTED, b"\x80{}"),
        f"executed notebook {EXECUTED} is not UTF-8 text (byte 0x80",
    ),
    "an executed notebook with a damaged run time": (
        lambda p: edit_json(
            p / EXECUTED, lambda d: d["metadata"]["papermill"].update(duration="1")
        ),
        "has damaged papermill metadata",
    ),
    "an executed notebook that is a directory": (
        lambda p: (p / EXECUTED).unlink() or (p / EXECUTED).mkdir(),
        f"executed notebook {EXECUTED} is a directory, not a file",
    ),
}


@pytest.mark.parametrize("setup, named", DAMAGED.values(), ids=list(DAMAGED))
def test_a_damaged_run_stops_the_report_with_the_command_that_repairs_it(project, setup, named):
    setup(project.path)
    before = snapshot(project.reports)
    assert_one_screen(project.main("report"), 5, named, RERUN, "(make report does it too)")
    assert_previous_report(project, before)
    done = project.main("check", "--profile", "quick")
    assert done.returncode == 0 and done.stdout == f"{RUN}/run.json\n", done.stderr
    assert named in done.stderr and "make reruns it" in done.stderr
    assert_previous_report(project, before)


def test_a_deleted_notebook_page_makes_make_rerun_the_run(project):
    (project.path / RUN / "notebooks" / f"{STEM}.html").unlink()
    done = project.main("check", "--profile", "quick")
    assert done.stdout == f"{RUN}/run.json\n" and "notebook page" in done.stderr, done.stderr


def test_make_reruns_a_one_off_run_whose_stamp_is_damaged(project):
    """#4: a one-off run with a truncated stamp was published as the profile's run."""
    done = project.cli(
        "run", "99", "--profile", "quick", "-p", "steps", "100", "-p", "record_every", "50"
    )
    assert done.returncode == 0, done.stderr
    os.truncate(project.path / RUN / "run.json", 30)  # its time is now: make would trust it
    done = project.make("report", "PROFILE=quick")
    assert done.returncode == 0 and f"{STEM} (profile quick) done in" in done.stdout, done
    stamp = json.loads((project.path / RUN / "run.json").read_text())
    assert stamp["overrides"] == {} and stamp["parameters"]["steps"] == 60
    html = (project.reports / "index.html").read_text()
    assert "one-off" not in html and "steps=100" not in html
    assert "nnreg-keras run 99 --profile quick</code>" in html
    assert kit.leftovers(project) == []


def test_make_repairs_a_corrupt_results_file(project):
    """#5: make never repaired a corrupt results file (its time said it was up to date)."""
    write(project.path / RESULTS, "{")
    done = project.make("report", "PROFILE=quick")
    assert done.returncode == 0 and f"{STEM} (profile quick) done in" in done.stdout, done
    assert json.loads((project.path / RESULTS).read_text())["notebook"] == STEM
    assert "up to date" in project.make("report", "PROFILE=quick").stdout
    assert kit.leftovers(project) == []


def test_a_failed_make_with_a_bad_profile_keeps_the_published_profile(project):
    """#6: a failed `make report PROFILE=bad` rewrote reports/.profile, so the next make with the
    profile already published retrained every notebook."""
    write(project.path / "params/bad.yaml", "99_tiny: [1,\n")
    before = snapshot(project.reports)
    done = project.make("report", "PROFILE=bad")
    assert done.returncode != 0 and "profile file params/bad.yaml is not valid YAML" in done.stderr
    assert "Traceback" not in done.stderr
    assert (project.reports / ".profile").read_text() == "quick\n"
    done = project.make("report", "PROFILE=quick")
    assert "up to date" in done.stdout and "done in" not in done.stdout, done
    assert_previous_report(project, before)


# What a killed run leaves: every entry point undoes it.
def moved_aside(p: Path) -> None:
    (p / RUN).rename(p / "reports/runs/.old-99_tiny")


def both_there(p: Path) -> None:
    shutil.copytree(p / RUN, p / "reports/runs/.old-99_tiny")


def private_directory(p: Path) -> None:
    write(p / "reports/.run-99_tiny-k1ll3d/.nnreg-run", "")
    write(p / "reports/.run-99_tiny-k1ll3d/runtime/kernel.json", '{"key": "secret"}')


def half_written_report(p: Path) -> None:
    write(p / "reports/.index.html-x1y2z3", "<!DOCTYPE html><p>half")


KILLED = {
    "killed between landing's two renames (#3)": moved_aside,
    "killed before deleting the old run directory": both_there,
    "killed while the kernel ran": private_directory,
    "killed while writing the report": half_written_report,
}


def without_index(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k != "index.html"}


@pytest.mark.parametrize("command", ["report", "report --prune", "check"])
@pytest.mark.parametrize("kill", KILLED.values(), ids=list(KILLED))
def test_every_entry_point_undoes_what_a_killed_run_left(project, kill, command):
    before = snapshot(project.reports)
    kill(project.path)
    args = ["check", "--profile", "quick"] if command == "check" else command.split()
    done = project.main(*args)
    assert done.returncode == 0 and "error" not in done.stderr, done
    assert without_index(snapshot(project.reports)) == without_index(before)
    if command != "check":
        assert (project.reports / "index.html").read_text().count("<section") == 1
    assert kit.leftovers(project) == []


def test_a_run_undoes_what_killed_runs_left_before_it_runs(project):
    for kill in (moved_aside, private_directory, half_written_report):
        kill(project.path)
    done = project.cli("run", "99", "--profile", "quick")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (project.reports / "runs").iterdir()) == [STEM]
    assert kit.leftovers(project) == []


def test_a_run_killed_with_sigkill_leaves_nothing_once_the_next_command_has_run(project):
    """#9: after SIGKILL the kernel's connection file, with its HMAC key, stayed in the system's
    temporary folder; now it lies in the run's private directory, which the next command deletes."""
    before = snapshot(project.reports)
    proc = project.popen("run", "99", "--profile", "quick", "-p", "mode", "sleep")
    deadline = time.monotonic() + 120
    while not list(project.reports.glob(".run-*/runtime/kernel.json")):  # the kernel starts
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert list(project.temp.iterdir()) == []  # nothing of the kernel's in the temporary folder
    done = project.cli("report")
    assert done.returncode == 0, done.stderr
    assert without_index(snapshot(project.reports)) == without_index(before)
    assert kit.leftovers(project) == []
