"""The fault suite's project: one tiny tutorial, a quick profile, the repository's Makefile, and the
checks every fault case makes (tests/test_faults*.py).

A case copies a project whose report make built once, breaks something, runs a command (as a
process, `Project.cli`, or, for the many cases that stop before any kernel starts, through the same
entry point in this process, `Project.main`, which is faster) and asserts its exit status; a message of at most 15 lines, without a traceback, naming the cause and the fix;
that reports/ holds exactly the previous report; and that nothing is left behind in reports/ (a
private directory, a directory moved aside, a half-written report), in the working directory or
in the temporary folder (each command gets its own TMPDIR, which must stay empty).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests.conftest import ROOT, write_notebook

STEM = "99_tiny"
PARAMS = """mode: str = "ok"  # the fault; one of "ok", "fail", "die", "sleep", "diverge", "data", "bad_results", "full", "exit"
learning_rate: float = 0.1  # gradient descent step; in (0, inf)
l2: float = 0.0  # unused L2 factor; in [0, inf)
steps: int = 40  # gradient steps; in [1, 1000000]
record_every: int = 20  # steps between records; in [1, 1000000]
hidden_units: list[int] = [4]  # hidden layer sizes; each in [1, 8192]; at least 1
data_path: str = ""  # a .npz, .csv or .mat data file, or ""; a file
seeds: list[int] = [0]  # seeds; each in [0, 2**31); at least 1; distinct
label: str = "tiny"  # a text the notebook shows as HTML, as a unit's name would be"""
BODY = """import json, os, time
import numpy as np
from IPython.display import HTML, display
from nnreg_keras import scratch
from nnreg_keras.data import load_dataset
from nnreg_keras.recording import Recorder
display(HTML(f"<p>Label: {label}</p>"))  # a parameter shown as HTML: the page must not run it
if mode == "fail":
    raise RuntimeError("this notebook was asked to fail")
if mode == "die":
    os.kill(os.getpid(), 9)
if mode == "sleep":
    print("sleeping", flush=True)
    time.sleep(120)
if mode == "data":
    load_dataset(data_path)
if mode == "exit":
    import sys
    sys.exit(0)
if mode == "full":  # the disk is full when the results are written
    os.makedirs(os.environ["NNREG_OUTPUT_DIR"] + "/results")
    os.symlink("/dev/full", os.environ["NNREG_OUTPUT_DIR"] + "/results/99_tiny.json")
if mode == "bad_results":
    os.makedirs(os.environ["NNREG_OUTPUT_DIR"] + "/results")
    with open(os.environ["NNREG_OUTPUT_DIR"] + "/results/99_tiny.json", "w") as out:
        json.dump({"schema_version": 2, "notebook": "99_tiny"}, out)
else:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 60))
    Y = (X[:1] > 0).astype(float)
    _, records = scratch.train(X, Y, learning_rate=learning_rate, num_iterations=steps,
                               layer_dims=[2, *hidden_units, 1], record_every=record_every)
    rec = Recorder("99_tiny", title="A tiny tutorial", questions=["Does it run?"],
                   parameters=dict(learning_rate=learning_rate, steps=steps, label=label),
                   seeds=seeds)
    rec.add_metrics(cost=records[-1]["cost"])
    rec.add_table("Labels", ["label"], [[label]])
    rec.verdict(f"It ran at {learning_rate} with {label}.")
    rec.write()
"""
# A notebook's own markdown may hold raw HTML; the page of the executed notebook must not run it.
HOSTILE_MARKDOWN = (
    "Raw HTML in a lesson: <script>alert('markdown')</script>"
    '<iframe src="https://example.org/frame"></iframe>'
    '<a href="javascript:alert(1)">a link that runs a script</a>'
    "<img src=x onerror=alert(2)>"
    '<img src="https://example.org/remote.png">'
)
EXERCISES = (
    "## Try it\n\n1. Change `learning_rate` to 1e6: predict what happens, then run "
    "`python -m nnreg_keras run 99 -p learning_rate 1e6`.\n"
    "2. Compare with the figure: ![a remote figure](https://example.org/figure.png)"
)
QUICK = f"{STEM}:\n  steps: 60\n"


def make_project(path: Path) -> Path:
    """A checkout with one tiny tutorial, a quick profile, and the repository's Makefile."""
    path.mkdir(parents=True, exist_ok=True)
    nb = write_notebook(path / "tutorials" / f"{STEM}.ipynb", PARAMS, BODY)
    book = nbformat.read(str(nb), as_version=4)
    book.cells.insert(1, nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
    cell = nbformat.v4.new_markdown_cell(EXERCISES)
    cell.metadata["tags"] = ["exercises"]
    book.cells.append(cell)
    nbformat.write(book, str(nb))
    (path / "params").mkdir()
    (path / "params" / "quick.yaml").write_text(QUICK)
    shutil.copy2(ROOT / "Makefile", path / "Makefile")
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, path / name)
    (path / "nnreg_keras").symlink_to(ROOT / "nnreg_keras")  # make's LIBRARY prerequisites
    (path / "installed").touch()
    return path


def build_baseline(directory: Path) -> None:
    """A project in directory/project whose report make built with the quick profile."""
    path = make_project(directory / "project")
    done = subprocess.run(
        make_command(path, "report", "PROFILE=quick"),
        capture_output=True,
        text=True,
        timeout=600,
        env=environment(directory),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def environment(temp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp), **extra}
    for name in ("NNREG_OUTPUT_DIR", "NNREG_NOTEBOOK", "NNREG_PROFILE", "NNREG_PROGRESS"):
        env.pop(name, None)
    return env


def make_command(path: Path, *args: str) -> list[str]:
    return [
        "make",
        "-C",
        str(path),
        *args,
        f"VENV={ROOT / '.venv'}",
        f"INSTALLED={path / 'installed'}",
        f"PY={sys.executable}",
    ]


@dataclass
class Project:
    """A copy of the baseline project for one case to break, with a TMPDIR of its own."""

    path: Path
    temp: Path

    @property
    def reports(self) -> Path:
        return self.path / "reports"

    def cli(self, *args: str, cwd: Path | None = None, timeout: float = 240, **env: str):
        return subprocess.run(
            [sys.executable, "-m", "nnreg_keras", *args],
            cwd=cwd or self.path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment(self.temp, **env),
        )

    def main(self, *args: str, cwd: Path | None = None, **env: str):
        """`python -m nnreg_keras ARGS` run in this process: the same entry point, argument
        parsing, messages and exit status, without starting an interpreter."""
        from nnreg_keras.pipeline import cli

        out, err = io.StringIO(), io.StringIO()
        saved = os.getcwd(), dict(os.environ), tempfile.tempdir
        try:
            os.chdir(cwd or self.path)
            os.environ.clear()
            os.environ.update(environment(self.temp, **env))
            tempfile.tempdir = str(self.temp)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(list(args))
        finally:
            os.chdir(saved[0])
            os.environ.clear()
            os.environ.update(saved[1])
            tempfile.tempdir = saved[2]
        return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())

    def make(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            make_command(self.path, *args),
            capture_output=True,
            text=True,
            timeout=600,
            env=environment(self.temp, **env),
        )

    def popen(self, *args: str) -> subprocess.Popen:
        """The CLI started as a terminal's foreground job is: Ctrl-C (SIGINT) not ignored, even
        when this test session runs in the background (`cmd &` in a script ignores SIGINT, and
        children inherit that, so Python would never raise KeyboardInterrupt)."""
        return subprocess.Popen(
            [sys.executable, "-m", "nnreg_keras", *args],
            cwd=self.path,
            env=environment(self.temp),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def copy_project(baseline_path: Path, tmp_path: Path) -> Project:
    path = tmp_path / "project"
    shutil.copytree(baseline_path, path, symlinks=True)
    (tmp_path / "temp").mkdir()
    return Project(path, tmp_path / "temp")


def snapshot(reports: Path) -> dict[str, bytes]:
    """Every file of reports/ (but lock files and make's notes) with its bytes; a link or a
    special file by what it is."""
    if not reports.is_dir():
        return {} if not os.path.lexists(reports) else {".": b"<not a directory>"}
    found = {}
    for p in sorted(reports.rglob("*")):
        name = p.relative_to(reports).as_posix()
        if ".locks" in p.parts or name in (".profile", ".notebooks"):
            continue
        if p.is_symlink():
            found[name] = b"<link to " + os.readlink(p).encode() + b">"
        elif p.is_file():
            found[name] = p.read_bytes()
        elif not p.is_dir():
            found[name] = b"<special file>"
    return found


def assert_one_screen(done: subprocess.CompletedProcess, status: int, *parts: str) -> str:
    """The exit status, and one message of at most 15 lines without a traceback holding `parts`
    (the cause and the fix)."""
    err = done.stderr
    assert done.returncode == status, (done.returncode, done.stdout[-2000:], err[-3000:])
    assert "Traceback" not in err and len(err.splitlines()) <= 15, err
    assert "error:" in err, err
    for part in parts:
        assert part in err, (part, err)
    if os.environ.get("NNREG_FAULT_LOG"):  # the list of cases and messages, for a review
        with open(os.environ["NNREG_FAULT_LOG"], "a", encoding="utf-8") as log:
            case = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
            message = next(line for line in err.splitlines() if "error:" in line)
            log.write(json.dumps({"case": case, "status": status, "message": message}) + "\n")
    return err


def leftovers(project: Project, before: dict[str, bytes] | None = None) -> list[str]:
    """What a command left that it should not have: private directories and files half written
    in reports/, a directory moved aside, anything in the temporary folder; what the case itself
    put there (`before`) aside."""
    reports = project.reports
    found = []
    if reports.is_dir():
        found += [p.name for p in reports.iterdir() if p.name.startswith((".run-", ".index"))]
        if (reports / "runs").is_dir():
            found += [
                f"runs/{p.name}" for p in (reports / "runs").iterdir() if p.name.startswith(".old-")
            ]
    known = set(before or {})
    found = [f for f in found if not any(k == f or k.startswith(f + "/") for k in known)]
    return found + [f"TMPDIR/{p.name}" for p in project.temp.iterdir()]


def assert_previous_report(
    project: Project,
    before: dict[str, bytes],
    failed: bool = False,
    top: set[str] | None = None,
) -> None:
    """reports/ holds exactly the previous report (and, for a failed notebook, its kept notebook
    and kernel log), nothing is left behind, and the working directory holds what it held."""
    after = snapshot(project.reports)
    kept = {k for k in after if k.startswith("failed/")} if failed else set()
    if failed:
        assert kept == {f"failed/{STEM}.ipynb", f"failed/{STEM}.kernel.log"}, kept
    assert {k: v for k, v in after.items() if k not in kept} == before
    assert leftovers(project, before) == []
    expected = top or {
        "Makefile",
        "installed",
        "nnreg_keras",
        "params",
        "pyproject.toml",
        "reports",
        "requirements.txt",
        "tutorials",
    }
    assert {p.name for p in project.path.iterdir()} == expected


# What HTML must not hold: anything that runs or fetches. Checked by a parser of its own and by
# a plain scan of the tags, so that a page both read alike is what a browser reads.
_URL_ATTRIBUTES = {"href", "xlink:href", "src", "action", "formaction", "poster", "background"}
_DROPPED = {"script", "iframe", "object", "embed", "base", "link", "frame", "animate", "set"}


def _remote(url: str) -> bool:
    url = "".join(c for c in url if c > " " and c != "\x7f").lower().replace("\\", "/")
    return url.startswith(("http:", "https:", "//", "ftp:", "file:"))


def _inline_icon(attrs: list[tuple[str, str | None]]) -> bool:
    """`<link rel="icon" href="data:image/...">`: an icon held in the page itself."""
    found = dict(attrs)
    return found.get("rel") == "icon" and (found.get("href") or "").startswith("data:image/")


def _scheme_runs(url: str) -> bool:
    url = "".join(c for c in url if c > " " and c != "\x7f").lower()
    return url.startswith(("javascript:", "vbscript:", "data:text/html"))


def live_content(page: str) -> list[str]:
    """The scripts, event handlers, javascript: URLs and remote resources of an HTML page (a link
    to follow, `<a href="https://...">`, is neither)."""
    import re
    from html.parser import HTMLParser

    found: list[str] = []

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.in_style = False

        def handle_starttag(self, tag, attrs):
            if tag == "link" and _inline_icon(attrs):
                return  # the page's own icon, an image inside the page: nothing is fetched
            if tag in _DROPPED or (tag == "meta" and any(k == "http-equiv" for k, _ in attrs)):
                found.append(f"<{tag}>")
            self.in_style = tag == "style"
            for name, value in attrs:
                value = value or ""
                if name.startswith("on"):
                    found.append(f"<{tag} {name}>")
                elif name in _URL_ATTRIBUTES and _scheme_runs(value):
                    found.append(f"<{tag} {name}={value[:40]}>")
                elif name in _URL_ATTRIBUTES and _remote(value) and tag not in ("a", "area"):
                    found.append(f"<{tag} {name}={value[:40]}> (remote)")
                elif name not in _URL_ATTRIBUTES and re.search(
                    r"(?<![-\w\\])url\(\s*['\"]?\s*(https?:|//)", value, re.I
                ):
                    found.append(f"<{tag} {name}: remote url()>")

        handle_startendtag = handle_starttag

        def handle_data(self, data):
            if self.in_style and re.search(
                r"@import|(?<![-\w\\])url\(\s*['\"]?\s*(https?:|//)", data, re.I
            ):
                found.append("<style> fetching")

        def handle_endtag(self, tag):
            self.in_style = False

    reader = Reader()
    reader.feed(page)
    reader.close()
    for tag in re.finditer(r"<([a-zA-Z][^\s/>]*)([^>]*)>", page):
        unquoted = re.sub(r"=\s*(\"[^\"]*\"|'[^']*')", "=", tag.group(2))
        if re.search(r"\son[a-z]+\s*=", unquoted, re.I):
            found.append(f"scan: <{tag.group(1)} ...on...=>")
        if tag.group(1).lower() in ("script", "iframe", "object", "embed"):
            found.append(f"scan: <{tag.group(1)}>")
    return found
