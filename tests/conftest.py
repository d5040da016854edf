"""Shared fixtures: the repository layout, and a way to write small notebooks for the runner."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Two notebooks at a time, one thread each, as `make report` runs them on two cores (the same settings for
# every run a test compares, since thread counts can change the last bits of a result).
ONE_THREAD_EACH = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def run_quick(selectors: list[str], reports: Path, workers: int = 2) -> None:
    """Run the notebooks the selectors pick (every one when empty) with the quick profile into
    `reports`, each in its own `nnreg-keras run`, `workers` at a time, the last notebook first."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from nnreg_keras.pipeline.runner import discover, pick

    stems = sorted((nb.stem for nb in pick(discover(ROOT / "tutorials"), selectors)), reverse=True)
    env = {**os.environ, **ONE_THREAD_EACH}
    where = ["--tutorials", str(ROOT / "tutorials"), "--params", str(ROOT / "params")]

    def one(stem: str) -> subprocess.CompletedProcess:
        # Without the report: the tests that read it build it once (report.build).
        command = [sys.executable, "-m", "nnreg_keras", "run", stem, "--profile", "quick"]
        command.append("--no-report")
        return subprocess.run(
            [*command, *where, "--reports", str(reports)],
            env=env,
            cwd=ROOT,  # whatever directory a test running meanwhile has moved to
            capture_output=True,
            text=True,
        )

    with ThreadPoolExecutor(workers) as pool:
        failed = [d for d in pool.map(one, stems) if d.returncode != 0]
    assert not failed, "\n".join(f"{d.args[4]}: {d.stderr[-3000:]}" for d in failed)


# One identifier per test run, the same in every pytest-xdist worker: what a build made in this run
# is told from what an earlier run left.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def once_per_run(shared: Path, name: str, build: Callable[[Path], None]) -> Path:
    """`build(shared / name)` run once per test run, however many pytest-xdist workers ask for it:
    the first to ask builds it while the others wait on its lock, then each reads the same path."""
    from filelock import FileLock

    path, done = shared / name, shared / f"{name}.done"
    shared.mkdir(parents=True, exist_ok=True)
    with FileLock(str(shared / f"{name}.lock"), thread_local=False):
        if not (done.exists() and done.read_text() == RUN_ID):
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            build(path)
            done.write_text(RUN_ID)
    return path


def run_temp(tmp_path_factory) -> Path:
    """The test run's temporary directory, shared by its pytest-xdist workers (each has its own
    below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _quick_run(tmp_path_factory) -> Path:
    """Where the quick run lands, made once per test run (see `quick_reports`)."""
    from nnreg_keras.training import BACKEND

    only = os.environ.get("NNREG_TEST_ONLY", "").split()  # e.g. "01 03": run just those notebooks
    kept = os.environ.get("NNREG_QUICK_REPORTS")
    shared, name = (
        (Path(kept), BACKEND) if kept and not only else (run_temp(tmp_path_factory), "quick")
    )
    return once_per_run(shared, name, lambda path: run_quick(only, path))


_BACKGROUND: dict[str, Any] = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests that read the quick run go last, and the run starts at once in the background
    (in one worker), so the other tests run while the notebooks do."""
    # The browser suite reads the quick run (unless NNREG_BROWSER_REPORTS names a report already
    # built), through fixtures some of its tests ask for by name.
    browser = not os.environ.get("NNREG_BROWSER_REPORTS")
    needs = [
        item
        for item in items
        if "quick_reports" in getattr(item, "fixturenames", ())
        or (browser and "browser" in item.path.relative_to(ROOT).parts)
    ]
    if not needs:
        return
    later = set(needs)
    items[:] = [item for item in items if item not in later] + needs
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0" and not config.option.collectonly:
        import concurrent.futures

        pool = concurrent.futures.ThreadPoolExecutor(1)
        _BACKGROUND["quick"] = pool.submit(_quick_run, config._tmp_path_factory)
        pool.shutdown(wait=False)


@pytest.fixture(scope="session")
def quick_reports(tmp_path_factory) -> Path:
    """Every tutorial executed once per test run with the quick profile, into a temp reports/
    (or, with NNREG_QUICK_REPORTS=DIR, into DIR/<backend>, kept for `make test-backends`)."""
    started = _BACKGROUND.get("quick")
    if started is not None:
        started.result()  # its failure, if it failed, is this fixture's
    return _quick_run(tmp_path_factory)


# The fault suite's project (tests/faults_kit.py): built with make once per test run, copied afresh
# for each test that breaks it.
@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> Path:
    from tests import faults_kit

    return once_per_run(run_temp(tmp_path_factory), "baseline", faults_kit.build_baseline) / (
        "project"
    )


@pytest.fixture
def project(baseline: Path, tmp_path: Path):
    from tests import faults_kit

    return faults_kit.copy_project(baseline, tmp_path)


def solution_and_check(notebook: Path, asserts: int) -> tuple[str, str]:
    """A tutorial's first cell with a solution region, and the check cell right after it (tagged
    `check`, with at least `asserts` asserts): the pieces a student edition blanks and keeps."""
    everything = nbformat.read(str(notebook), as_version=4).cells
    at = next(i for i, c in enumerate(everything) if "### BEGIN SOLUTION" in c.source)
    assert everything[at].cell_type == "code" and "### END SOLUTION" in everything[at].source
    check = everything[at + 1]
    assert "check" in check.metadata.get("tags", []) and check.source.count("assert ") >= asserts
    return everything[at].source, check.source
