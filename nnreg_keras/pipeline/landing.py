"""Putting a notebook's outputs into reports/ in one step, under a lock, and reading them back.

Each notebook's outputs (results JSON, figures, executed notebook and its HTML page, the stamp
`run.json`) are written into a private directory `reports/.run-<stem>-*/out` and then land as
`reports/runs/<stem>/` by renaming directories: the old directory moves aside, the new one takes its
place, the old one is deleted. A lock per notebook keeps two runs of the same notebook apart (two
different notebooks run side by side, as `make -j2` does); a short `landing` lock makes the two
renames invisible to a report being built.

The package deletes only what it wrote, and everything it writes carries a mark: a run directory
its stamp `run.json`, a private directory the file `.nnreg-run`, a kept kernel log its first line,
a kept notebook papermill's metadata (a run directory whose stamp is lost still has its
results file). `check_reports` refuses a reports directory that holds
anything else, before anything is written or deleted; `recover` undoes what a killed run left (a
private directory, a run directory moved aside and not replaced); `check_run` says whether a landed
run is whole, naming the first missing or damaged file and the command that reruns the notebook.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from nnreg_keras.exceptions import LockError, OutputError, ResultsError
from nnreg_keras.pipeline import contract
from nnreg_keras.pipeline.files import (  # noqa: F401 (landing.writing, landing.remove, ...)
    _a,
    _reason,
    dir_mode,
    file_mode,
    kind,
    read_text,
    remove,
    size_text,
    write_text,
    writing,
)

RUNS = "runs"
FAILED = "failed"
LOCKS = ".locks"
STAMP = "run.json"  # in each run directory: the exact parameters, the overrides, the run time
ASIDE = ".old-"  # runs/.old-<stem>: the previous run directory while a new one lands
ONE_OFF = "+one-off"  # runs/<stem>+one-off: a one-off run, beside the landed run it varies
WORK = ".run-"  # reports/.run-<stem>-*: a run's private directory
WORK_MARK = ".nnreg-run"  # written first into each private directory
LOG_HEADER = "# nnreg_keras: kernel log of a failed run of notebook "
INDEX_TEMP = ".index.html-"  # the report while it is written (write_text)
# The entries at the top of reports/ that this package writes (make writes .profile and
# .notebooks, the browser tests screenshots/), with their kind; anything else is someone else's.
TOP = {
    "index.html": "file",
    ".profile": "file",
    ".notebooks": "file",
    LOCKS: "directory",
    RUNS: "directory",
    FAILED: "directory",
    "screenshots": "directory",
}
STAMP_BYTES = 1 << 20  # a stamp holds a few parameters
NOTEBOOK_BYTES = 1 << 30  # an executed notebook with its figures
FIGURE_BYTES = 64 << 20


@contextlib.contextmanager
def lock(reports: Path, name: str, wait: bool = True, shared: bool = False) -> Iterator[bool]:
    """Hold `reports/.locks/<name>.lock` (filelock: on every OS); yields True when another process
    held it first. Waiting, it says so once on stderr; with wait=False it raises LockError.

    `shared` is kept for readers (the report's build); filelock's locks are exclusive, which only
    makes two builds take turns."""
    import filelock

    directory = Path(reports) / LOCKS
    with writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
    held = filelock.FileLock(directory / f"{name}.lock", mode=file_mode(), thread_local=False)
    waited = False
    try:
        held.acquire(timeout=0)
    except filelock.Timeout:
        if not wait:
            raise LockError(
                f"another run holds the lock on {name}; wait for it to finish, or run again "
                f"without --no-wait"
            ) from None
        print(f"waiting for another run to finish {name} ...", file=sys.stderr, flush=True)
        held.acquire()
        waited = True
    except OSError as err:
        raise OutputError(f"cannot lock {directory / name}.lock: {_reason(err)}") from None
    try:
        yield waited
    finally:
        held.release()


def is_locked(reports: Path, name: str) -> bool:
    """Whether a live process holds `name`'s lock now."""
    try:
        with lock(reports, name, wait=False):
            return False
    except LockError:
        return True


# What this package wrote: the marks of its directories and files.


def _is_file(path: Path) -> bool:
    return kind(path) == "file"


def notebook_of(name: str) -> str:
    """The notebook a run directory's name is for: `03_x`, `.old-03_x`, `03_x+one-off`."""
    return name.removeprefix(ASIDE).split(ONE_OFF)[0]


def is_run_directory(path: Path) -> bool:
    """A run directory this package landed: a directory (not a link) holding its stamp, or (the
    stamp lost) the results file of the notebook it is named after."""
    name = notebook_of(Path(path).name)
    return kind(path) == "directory" and (
        _is_file(path / STAMP) or _is_file(path / "results" / f"{name}.json")
    )


def _is_work_directory(path: Path) -> bool:
    """A private directory of a run: marked, or empty (a run killed right after creating it)."""
    return kind(path) == "directory" and (
        _is_file(path / WORK_MARK) or not any(Path(path).iterdir())
    )


def _is_kept(path: Path) -> bool:
    """A file of failed/: a kernel log with its first line, or a notebook papermill executed."""
    if not _is_file(path):
        return False
    try:
        if path.name.endswith(".kernel.log"):
            with open(path, "rb") as handle:
                return handle.read(len(LOG_HEADER)).decode("utf-8", "replace") == LOG_HEADER
        if path.suffix == ".ipynb" and path.stat().st_size <= NOTEBOOK_BYTES:
            metadata = json.loads(path.read_bytes()).get("metadata")
            return isinstance(metadata, dict) and isinstance(metadata.get("papermill"), dict)
    except (OSError, ValueError, AttributeError, RecursionError):
        return False
    return False


def _foreign_at_top(reports: Path) -> list[str]:
    found = []
    for entry in sorted(reports.iterdir()):
        name = entry.name
        if name in TOP:
            expected = TOP[name]  # a link to a directory serves as the directory
            actual = "directory" if expected == "directory" and entry.is_dir() else kind(entry)
            if actual != expected:
                found.append(f"{entry} ({_a(actual)}, not {_a(expected)})")
        elif name.startswith(WORK) and _is_work_directory(entry):
            pass
        elif name.startswith(INDEX_TEMP) and _is_file(entry):
            pass
        else:
            found.append(f"{entry} ({_a(kind(entry))})")
    return found


def _foreign_inside(directory: Path, ours: Any, expected: str) -> list[str]:
    if not directory.is_dir():
        return []
    return [f"{e} ({_what(e, expected)})" for e in sorted(directory.iterdir()) if not ours(e)]


def _what(entry: Path, expected: str) -> str:
    """Why an entry is not what its directory holds: 'a directory without run.json', ..."""
    found = kind(entry)
    if expected == "run directory" and found == "directory":
        hidden = entry.name.startswith(".") and not entry.name.startswith(ASIDE)
        return (
            "a hidden directory, not a run directory" if hidden else f"a directory without {STAMP}"
        )
    return f"{_a(found)}, not {_a(expected)}"


def _written_in_run(run_dir: Path) -> set[str]:
    """The files a run directory holds that this package wrote: its stamp, results, executed
    notebook and page, and the figure files (SVG, PNG) of its notebook's figures folder."""
    stem = notebook_of(run_dir.name)
    ours = {STAMP, f"results/{stem}.json", f"notebooks/{stem}.ipynb", f"notebooks/{stem}.html"}
    pictures = (run_dir / "figures" / stem).glob("*")
    return ours | {f"figures/{stem}/{p.name}" for p in pictures if p.suffix in (".svg", ".png")}


def _foreign_in_runs(runs: Path) -> list[str]:
    """Files and folders inside the run directories that this package did not write (a user's
    notes, a folder of their own): a run directory is replaced whole, so they would be lost."""
    found = []
    for run_dir in sorted(runs.glob("*")) if runs.is_dir() else []:
        if not is_run_directory(run_dir):
            continue
        ours = _written_in_run(run_dir)
        stem = notebook_of(run_dir.name)
        folders = {"figures", f"figures/{stem}", "results", "notebooks"}
        for entry in sorted(run_dir.rglob("*")):
            relative = str(entry.relative_to(run_dir))
            if relative in ours or (relative in folders and kind(entry) == "directory"):
                continue
            found.append(f"{entry} ({_a(kind(entry))} in a run directory, not one it wrote)")
    return found


def foreign(reports: Path) -> list[str]:
    """The entries of a reports directory this package did not write, each with what it is."""
    reports = Path(reports)
    if not reports.is_dir():
        return []
    return (
        _foreign_at_top(reports)
        + _foreign_inside(
            reports / RUNS,
            lambda e: (
                is_run_directory(e) and (not e.name.startswith(".") or e.name.startswith(ASIDE))
            ),
            "run directory",
        )
        + _foreign_in_runs(reports / RUNS)
        + _foreign_inside(reports / FAILED, _is_kept, "notebook or kernel log a failed run left")
        + _foreign_inside(
            reports / LOCKS, lambda e: e.suffix == ".lock" and _is_file(e), "lock file"
        )
    )


def check_reports(reports: Path) -> None:
    """Refuse a reports directory that is not a directory, or that holds anything this package did
    not write: it deletes only what it wrote, so it writes nowhere it might have to delete others'
    files. A directory that does not exist yet is fine."""
    reports = Path(reports)
    if os.path.lexists(reports) and not reports.is_dir():
        raise OutputError(
            f"{reports} is {_a(kind(reports))}, not a directory; give --reports a directory "
            f"(new, or one this package wrote), or move {reports} away"
        )
    runs = reports / RUNS
    if runs.is_dir() and os.stat(runs).st_dev != os.stat(reports).st_dev:
        raise OutputError(
            f"{runs} is on another file system than {reports}, where each run is written before "
            f"it lands by a rename, which cannot cross file systems; make {runs} a directory "
            f"inside {reports} (not a link or a mount elsewhere), or give --reports a directory "
            f"on that other file system"
        )
    found = foreign(reports)
    if found:
        shown = found[:6] + ([f"... and {len(found) - 6} more"] if len(found) > 6 else [])
        raise OutputError(
            f"{reports} holds files this package did not write, and it deletes only what it "
            f"wrote, so it writes nothing there:\n  "
            + "\n  ".join(shown)
            + f"\nmove them out of {reports} (or give --reports a new or empty directory), "
            f"then run again"
        )


# Private directories, landing, and what a killed run leaves.


def work_directory(reports: Path, stem: str) -> Path:
    """A fresh private directory inside reports/ (same file system, so landing is a rename)."""
    with writing(reports):
        Path(reports).mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{WORK}{stem}-", dir=reports))
        (work / WORK_MARK).touch()
        os.chmod(work, dir_mode())
    return work


def restore(reports: Path, stem: str) -> None:
    """Undo what a run killed while landing `stem` left (the caller holds `stem`'s lock): bring
    back the directory moved aside, or delete it when the new one has landed."""
    runs = Path(reports) / RUNS
    aside, target = runs / f"{ASIDE}{stem}", runs / stem
    if not os.path.lexists(aside):
        return
    with writing(aside), lock(reports, "landing"):
        if os.path.lexists(target):
            remove(aside)
        else:
            aside.rename(target)


def clean_stale(reports: Path, holding_index: bool = False) -> None:
    """Delete the private directories of runs that no longer hold their notebook's lock (killed
    runs), and a report a killed build left half written (`holding_index`: the caller holds the
    index lock, so no build is writing one now)."""
    reports = Path(reports)
    for work in reports.glob(f"{WORK}*"):
        stem = work.name.removeprefix(WORK).rsplit("-", 1)[0]
        if _is_work_directory(work) and not is_locked(reports, stem):
            remove(work)
    temps = [p for p in reports.glob(f"{INDEX_TEMP}*") if _is_file(p)]
    if temps and (holding_index or not is_locked(reports, "index")):
        for temp in temps:
            remove(temp)


def recover(reports: Path, holding_index: bool = False) -> None:
    """Undo what killed runs left in a reports directory: private directories, a half-written
    report, run directories moved aside (a kill between landing's two renames). A notebook that a
    live run holds is left to that run."""
    reports = Path(reports)
    if not reports.is_dir():
        return
    clean_stale(reports, holding_index)
    for aside in sorted((reports / RUNS).glob(f"{ASIDE}*")):
        stem = aside.name.removeprefix(ASIDE)
        with contextlib.suppress(LockError), lock(reports, stem, wait=False):
            restore(reports, stem)


LANDED: list[str] = []  # the notebooks whose new run this process landed (for the CLI's messages)


def land(out: Path, reports: Path, stem: str) -> Path:
    """Replace `reports/runs/<stem>` by the directory `out` (the caller holds `stem`'s lock)."""
    runs = Path(reports) / RUNS
    target, aside = runs / stem, runs / f"{ASIDE}{stem}"
    with writing(runs), lock(reports, "landing"):
        runs.mkdir(exist_ok=True)
        if os.path.lexists(target) and not is_run_directory(target):
            check_reports(reports)  # someone put a file there while the notebook ran
        if os.path.lexists(aside):
            remove(aside)
        if os.path.lexists(target):
            target.rename(aside)
        try:
            out.rename(target)
        except OSError:
            if os.path.lexists(aside):
                aside.rename(target)
            raise
    LANDED.append(stem)
    try:
        remove(aside)
    except OutputError as err:
        raise OutputError(
            f"the new run of {stem} landed, but the previous one, moved aside to {aside}, cannot "
            f"be deleted ({err}); delete {aside} yourself (make its folders writable first), then "
            f"run `nnreg-keras report`"
        ) from None
    return target


def move_file(src: Path, dst: Path) -> None:
    """Move one file into place in one step (same file system)."""
    with writing(dst):
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def keep_log(src: Path, dst: Path, stem: str) -> None:
    """Keep a failed run's kernel log at `dst`, its first line marking it as this package's."""
    with writing(dst):
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as log, open(src.with_name(".kept.log"), "wb") as kept:
            kept.write(f"{LOG_HEADER}{stem}\n".encode())
            shutil.copyfileobj(log, kept)
        os.replace(src.with_name(".kept.log"), dst)


# Reading a landed run back.


def run_command(stem: str, profile: str | None = None) -> str:
    """The command that runs a notebook (with `profile`, when given)."""
    command = f"nnreg-keras run {stem.split('_')[0]}"
    return f"{command} --profile {shlex.quote(profile)}" if profile else command


def rerun_hint(stem: str, profile: str | None = None) -> str:
    """The command that rewrites a notebook's run directory."""
    return f"rerun the notebook: {run_command(stem, profile)} (make report does it too)"


def stamp(run_dir: Path, fix: str | None = None, stem: str | None = None) -> dict[str, Any]:
    """The stamp of a landed run, checked; ResultsError naming the file and `fix` when it is
    missing or damaged."""
    run_dir = Path(run_dir)
    path = run_dir / STAMP
    fix = fix or rerun_hint(notebook_of(run_dir.name))
    text = read_text(path, "run stamp", ResultsError, fix, STAMP_BYTES)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ResultsError(f"run stamp {path} is not valid JSON ({err}); {fix}") from None
    expected = {"notebook": str, "profile": str, "parameters": dict, "overrides": dict}
    if not isinstance(data, dict):
        raise ResultsError(
            f"run stamp {path} is damaged: it holds a JSON {type(data).__name__}, not an "
            f"object; {fix}"
        )
    wrong = [
        f"{key!r} ({t.__name__})" for key, t in expected.items() if not isinstance(data.get(key), t)
    ]
    wrong += [
        f"{key!r} (a number)"
        for key in ("duration", "models")
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], (int, float)))
    ]
    wrong += [
        f"{key!r} (a text)"
        for key in ("exercises",)
        if data.get(key) is not None and not isinstance(data[key], str)
    ]
    if wrong:
        raise ResultsError(f"run stamp {path} is damaged: it lacks {', '.join(wrong)}; {fix}")
    if data["notebook"] != (stem or notebook_of(run_dir.name)):
        raise ResultsError(
            f"run stamp {path} is for notebook {data['notebook']!r}, not {run_dir.name}; {fix}"
        )
    return data


def read_stamp(run_dir: Path) -> dict[str, Any] | None:
    """The stamp of a landed run, or None when there is none or it is damaged."""
    try:
        return stamp(run_dir)
    except ResultsError:
        return None


def _profile_of(run_dir: Path) -> str | None:
    """The profile a run directory was made with, as far as its stamp or results still say."""
    found = read_stamp(run_dir)
    if found:
        return found["profile"]
    try:
        stem = notebook_of(run_dir.name)
        results = json.loads((run_dir / "results" / f"{stem}.json").read_bytes())
        profile = results.get("profile")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return profile if isinstance(profile, str) and profile.isprintable() else None


def check_figure(path: Path, fix: str) -> None:
    """A figure the report can inline: an SVG document or a PNG image, in a file (not a link)."""
    path = Path(path)
    found = kind(path)
    if found == "nothing":
        raise ResultsError(f"figure file {path} is missing; {fix}")
    if found != "file":
        raise ResultsError(f"figure file {path} is {_a(found)}, not a file; {fix}")
    if path.suffix == ".png":
        try:
            with open(path, "rb") as handle:
                head, size = handle.read(4), os.fstat(handle.fileno()).st_size
        except OSError as err:
            raise ResultsError(
                f"figure file {path} cannot be read ({_reason(err)}); {fix}"
            ) from None
        if head != b"\x89PNG" or size > FIGURE_BYTES:
            raise ResultsError(
                f"figure file {path} is not a PNG image of at most {size_text(FIGURE_BYTES)}; {fix}"
            )
        return
    text = read_text(path, "figure file", ResultsError, fix, FIGURE_BYTES)
    if "<svg" not in text:
        raise ResultsError(f"figure file {path} is not an SVG image (no <svg> element); {fix}")


def papermill_metadata(executed: Path, fix: str) -> dict[str, Any]:
    """The start time and duration papermill recorded in an executed notebook, checked."""
    text = read_text(executed, "executed notebook", ResultsError, fix, NOTEBOOK_BYTES)
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ResultsError(
            f"executed notebook {executed} is not valid JSON ({err}); {fix}"
        ) from None
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    meta = metadata.get("papermill", {}) if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        raise ResultsError(f"executed notebook {executed} is not a notebook's JSON; {fix}")
    start, duration = meta.get("start_time"), meta.get("duration")
    if not isinstance(start, (str, type(None))) or not (
        duration is None or (isinstance(duration, (int, float)) and not isinstance(duration, bool))
    ):
        raise ResultsError(f"executed notebook {executed} has damaged papermill metadata; {fix}")
    return {"start_time": start, "duration": duration}


class CheckedRun(NamedTuple):
    """What `check_run` read of a landed run: its results, its stamp, and the start time and
    duration papermill recorded (None where the executed notebook is absent)."""

    results: dict[str, Any]
    stamp: dict[str, Any]
    papermill: dict[str, Any]


def check_run(
    run_dir: Path, complete: bool = False, stem: str | None = None, fix: str | None = None
) -> CheckedRun:
    """A run's validated results, stamp and papermill times, after checking every file the report
    reads: ResultsError naming the first missing or damaged file and `fix` (by default, the command
    that reruns the notebook). `complete` also asks for the executed notebook and its HTML page,
    which every run writes. A new run is checked whole so, in its private directory, before it
    lands (`stem` names its notebook there)."""
    run_dir = Path(run_dir)
    stem = stem or notebook_of(run_dir.name)
    fix = fix or rerun_hint(stem, _profile_of(run_dir))
    found = stamp(run_dir, fix, stem)
    results = contract.load(run_dir / "results" / f"{stem}.json", fix=fix)
    if results["notebook"] != stem or results["profile"] != found["profile"]:
        raise ResultsError(
            f"results file {run_dir / 'results' / f'{stem}.json'} is for notebook "
            f"{results['notebook']!r}, profile {results['profile']!r}, but its run stamp says "
            f"{stem}, profile {found['profile']!r}; {fix}"
        )
    for figure in results["figures"]:
        check_figure(run_dir / figure["file"], fix)
    executed = run_dir / "notebooks" / f"{stem}.ipynb"
    times = {"start_time": None, "duration": None}
    if complete or os.path.lexists(executed):
        times = papermill_metadata(executed, fix)
    page = run_dir / "notebooks" / f"{stem}.html"
    if complete and not _is_file(page):
        raise ResultsError(f"notebook page {page} is missing; {fix}")
    return CheckedRun(results, found, times)
