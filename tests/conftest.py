"""Shared fixtures: the repository layout, and a way to write small notebooks for the runner."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
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
        command = [sys.executable, "-m", "nnreg_keras", "run", stem, "--profile", "quick"]
        return subprocess.run(
            [*command, *where, "--reports", str(reports)], env=env, capture_output=True, text=True
        )

    with ThreadPoolExecutor(workers) as pool:
        failed = [d for d in pool.map(one, stems) if d.returncode != 0]
    assert not failed, "\n".join(f"{d.args[4]}: {d.stderr[-3000:]}" for d in failed)


def once_per_run(shared: Path, name: str, testrun_uid: str, build: Callable[[Path], None]) -> Path:
    """`build(shared / name)` run once per test run, however many pytest-xdist workers ask for it:
    the first to ask builds it while the others wait on its lock, then each reads the same path."""
    from filelock import FileLock

    path, done = shared / name, shared / f"{name}.done"
    shared.mkdir(parents=True, exist_ok=True)
    with FileLock(str(shared / f"{name}.lock")):
        if not (done.exists() and done.read_text() == testrun_uid):
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            build(path)
            done.write_text(testrun_uid)
    return path


def run_temp(tmp_path_factory) -> Path:
    """The test run's temporary directory, shared by its pytest-xdist workers (each has its own
    below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def quick_reports(tmp_path_factory, testrun_uid) -> Path:
    """Every tutorial executed once per test run with the quick profile, into a temp reports/
    (or, with NNREG_QUICK_REPORTS=DIR, into DIR/<backend>, kept for `make test-backends`)."""
    from nnreg_keras.training import BACKEND

    only = os.environ.get("NNREG_TEST_ONLY", "").split()  # e.g. "01 03": run just those notebooks
    kept = os.environ.get("NNREG_QUICK_REPORTS")
    shared, name = (
        (Path(kept), BACKEND) if kept and not only else (run_temp(tmp_path_factory), "quick")
    )
    return once_per_run(shared, name, testrun_uid, lambda path: run_quick(only, path))


# The fault suite's project (tests/faults_kit.py): built with make once per test run, copied afresh
# for each test that breaks it.
@pytest.fixture(scope="session")
def baseline(tmp_path_factory, testrun_uid) -> Path:
    from tests import faults_kit

    built = once_per_run(
        run_temp(tmp_path_factory), "baseline", testrun_uid, faults_kit.build_baseline
    )
    return built / "project"


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
