"""Putting a notebook's outputs into reports/ in one step, under a lock, with ordinary file modes.

Each notebook's outputs (results JSON, figures, executed notebook and its HTML page, the stamp
`run.json`) are written into a private directory `reports/.run-<stem>-*/out` and then land as
`reports/runs/<stem>/` by renaming directories: the old directory moves aside, the new one takes its
place, the old one is deleted. A lock per notebook keeps two runs of the same notebook apart (two
different notebooks run side by side, as `make -j2` does); a short `landing` lock makes the two
renames invisible to a report being built. What a killed run leaves behind (a `.run-*` directory,
a directory moved aside) is cleaned or restored by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import LockError, OutputError

RUNS = "runs"
LOCKS = ".locks"
STAMP = "run.json"  # in each run directory: the exact parameters, the overrides, the run time


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets under the current umask (0644 under the usual 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


@contextlib.contextmanager
def writing(what: Path | str) -> Iterator[None]:
    """Turn a failed write (permissions, a full disk) into a one-line OutputError."""
    try:
        yield
    except OutputError:
        raise
    except OSError as err:
        reason = os.strerror(err.errno).lower() if err.errno else str(err)
        raise OutputError(f"cannot write {err.filename or what}: {reason}") from None


def write_text(path: Path, text: str) -> Path:
    """Write a file in one step (a temporary file renamed over it), with the ordinary mode."""
    path = Path(path)
    with writing(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


@contextlib.contextmanager
def lock(reports: Path, name: str, wait: bool = True, shared: bool = False) -> Iterator[bool]:
    """Hold `reports/.locks/<name>.lock`; yields True when another process held it first.

    Waiting, it says once on stderr which process it waits for; with wait=False it raises LockError."""
    directory = Path(reports) / LOCKS
    with writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / f"{name}.lock", "a+")
    kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    waited = False
    try:
        try:
            fcntl.flock(handle, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            if not wait:
                raise LockError(
                    f"another run (pid {holder}) holds the lock on {name}; "
                    f"wait for it to finish, or run again without --no-wait"
                ) from None
            print(
                f"waiting for another run (pid {holder}) to finish {name} ...",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(handle, kind)
            waited = True
        if not shared:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        yield waited
    finally:
        handle.close()


def is_locked(reports: Path, name: str) -> bool:
    """Whether a live process holds `name`'s lock now."""
    try:
        with lock(reports, name, wait=False):
            return False
    except LockError:
        return True


def work_directory(reports: Path, stem: str) -> Path:
    """A fresh private directory inside reports/ (same file system, so landing is a rename)."""
    with writing(reports):
        Path(reports).mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".run-{stem}-", dir=reports))
        os.chmod(work, dir_mode())
    return work


def restore(reports: Path, stem: str) -> None:
    """Undo what a run killed while landing `stem` left: bring back a directory moved aside."""
    runs = Path(reports) / RUNS
    aside = runs / f".old-{stem}"
    if aside.is_dir():
        if (runs / stem).is_dir():
            shutil.rmtree(aside)
        else:
            aside.rename(runs / stem)


def clean_stale(reports: Path) -> None:
    """Delete `.run-*` directories of runs that no longer hold their notebook's lock (killed runs)."""
    for work in Path(reports).glob(".run-*"):
        stem = work.name.removeprefix(".run-").rsplit("-", 1)[0]
        if work.is_dir() and not is_locked(reports, stem):
            shutil.rmtree(work, ignore_errors=True)


def land(out: Path, reports: Path, stem: str) -> Path:
    """Replace `reports/runs/<stem>` by the directory `out` (the caller holds `stem`'s lock)."""
    runs = Path(reports) / RUNS
    target, aside = runs / stem, runs / f".old-{stem}"
    with writing(runs), lock(reports, "landing"):
        runs.mkdir(exist_ok=True)
        if target.exists():
            target.rename(aside)
        try:
            out.rename(target)
        except OSError:
            if aside.exists():
                aside.rename(target)
            raise
    shutil.rmtree(aside, ignore_errors=True)
    return target


def move_file(src: Path, dst: Path) -> None:
    """Move one file into place in one step (same file system)."""
    with writing(dst):
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def remove(path: Path) -> None:
    """Delete a file or directory if it exists."""
    with writing(path):
        if Path(path).is_dir():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()


def read_stamp(run_dir: Path) -> dict[str, Any] | None:
    """The stamp of a landed run, or None."""
    try:
        return json.loads((Path(run_dir) / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return None
