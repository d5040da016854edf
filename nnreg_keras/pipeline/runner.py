"""Executes tutorial notebooks through papermill and lands their outputs in one step.

For one notebook the runner: reads its `parameters` cell, merges the profile's values and the
one-off overrides, checks and converts them (for every selected notebook, before any kernel starts),
takes the notebook's lock, executes it in a private directory inside `reports/`, validates the
results JSON it wrote (adding the notebook's exercises), writes the executed notebook as an offline
HTML page and the stamp `run.json` (the exact parameters, the overrides, the run time), and lands
the directory as `reports/runs/<stem>/` (see `nnreg_keras.landing`). A failure leaves the previous
outputs untouched and keeps the failed notebook and its kernel log in `reports/failed/`.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnreg_keras import exceptions, recording, rules
from nnreg_keras.exceptions import (
    NnregError,
    NotebookError,
    OutputError,
    ParameterError,
    ResultsError,
    UsageError,
)
from nnreg_keras.pipeline import contract, landing, profiles, sanitize
from nnreg_keras.pipeline import progress as progress_mod
from nnreg_keras.pipeline.shipped import TEMPLATES, lesson_stems
from nnreg_keras.quiet import stderr_to


@dataclass(frozen=True)
class Layout:
    """Where the runner reads notebooks and profiles and writes its outputs."""

    tutorials: Path = Path("tutorials")
    params: Path = Path("params")
    reports: Path = Path("reports")
    installed: bool = False  # the notebooks are the package's copy, found for want of tutorials/

    def profile_path(self, profile: str) -> Path:
        return self.params / f"{profile}.yaml"

    def run_dir(self, stem: str) -> Path:
        return self.reports / landing.RUNS / stem

    def failed(self, stem: str, suffix: str) -> Path:
        return self.reports / "failed" / f"{stem}{suffix}"


@dataclass(frozen=True)
class Plan:
    """One notebook to run: its profile, the checked values to inject, and what they add up to."""

    notebook: Path
    profile: str
    inject: dict[str, Any]  # profile values and overrides, converted: passed to papermill
    parameters: dict[str, Any]  # every parameter the notebook runs with
    overrides: dict[str, Any] = field(
        default_factory=dict
    )  # one-off values that differ from the profile

    @property
    def stem(self) -> str:
        return self.notebook.stem


def discover(tutorials: Path) -> list[Path]:
    """The tutorial notebooks, in file-name order."""
    return sorted(p for p in Path(tutorials).glob("*.ipynb") if not p.name.startswith("."))


def notebooks_in(tutorials: Path) -> list[Path]:
    """The tutorial notebooks; UsageError naming the directory looked in when there are none."""
    found = discover(tutorials)
    if not found:
        where = Path(tutorials).absolute()
        state = "holds no .ipynb file" if where.is_dir() else "does not exist"
        raise UsageError(
            f"no notebooks in {tutorials} ({where} {state}); run from the directory that holds "
            f"tutorials/ (the project's), or give --tutorials DIR"
        )
    return found


KERAS_BACKENDS = ("tensorflow", "jax", "torch")  # numpy and openvino run models but cannot train


def check_environment() -> None:
    """Refuse a KERAS_BACKEND that Keras cannot load, before a kernel starts and fails on it."""
    backend = os.environ.get("KERAS_BACKEND", "")
    if not backend:
        return
    if backend not in KERAS_BACKENDS:
        raise UsageError(
            f"KERAS_BACKEND={backend!r} is not a Keras backend that trains; accepted: "
            f"{', '.join(KERAS_BACKENDS)}; set one (KERAS_BACKEND=jax), or unset it for tensorflow"
        )
    if importlib.util.find_spec(backend) is None:
        raise UsageError(
            f"KERAS_BACKEND={backend}: {backend} is not installed for {sys.executable}; install "
            f"it (pip install {backend}), or choose another backend"
        )


def pick(notebooks: list[Path], selectors: list[str]) -> list[Path]:
    """Notebooks named by number prefix (`01`), stem, file name or path; all when none is given."""
    if not selectors:
        return notebooks
    chosen = []
    for sel in selectors:
        name = Path(sel).name.removesuffix(".ipynb").removesuffix(".json")
        matches = [nb for nb in notebooks if nb.stem == name or nb.stem.split("_")[0] == name]
        if len(matches) != 1:
            raise ParameterError(
                f"no single notebook matches {sel!r}; notebooks: "
                f"{', '.join(nb.stem for nb in notebooks) or 'none'}"
            )
        chosen.append(matches[0])
    return chosen


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def plan(notebook: Path, profile: str, from_profile: dict[str, Any], extra: dict[str, Any]) -> Plan:
    """Check one notebook's parameters by the rules its parameters cell declares, and convert them
    to their types; note the overrides that make it a one-off run."""
    declared = profiles.notebook_parameters(notebook)
    parameters = rules.check_values(
        notebook.stem, declared, {**from_profile, **extra}, profiles.typed
    )
    given = rules.check_values(notebook.stem, declared, from_profile) if extra else parameters
    overrides = {k: parameters[k] for k in extra if parameters[k] != given[k]}
    inject = {k: parameters[k] for k in {**from_profile, **extra}}
    return Plan(notebook, profile, inject, parameters, overrides)


def _published_profile(layout: Layout) -> str | None:
    """The profile `make report` last published (`reports/.profile`), if make was used."""
    try:
        return (layout.reports / ".profile").read_text().strip()
    except (OSError, ValueError):  # missing, or not UTF-8 text (last_profile names it)
        return None


def _is_one_off(job: Plan, layout: Layout) -> bool:
    published = _published_profile(layout)
    return bool(job.overrides) or (published is not None and published != job.profile)


def exercises(nb: Any) -> str | None:
    """The source of the notebook's markdown cell tagged `exercises`, if it has one."""
    found = [
        c.source
        for c in nb.cells
        if c.cell_type == "markdown" and "exercises" in c.get("metadata", {}).get("tags", [])
    ]
    return found[0] if found else None


def export_html(nb: Any, executed: Path, target: Path) -> None:
    """The executed notebook `nb` (read from `executed`) as one HTML page with its outputs and
    figures, fetching nothing; it carries the notebook's title and links back to its section of
    the report (reports/index.html, three levels up from runs/NN_name/notebooks/) and to its own
    .ipynb and results."""
    from nbconvert import HTMLExporter

    from nnreg_keras.pipeline.report import NOTEBOOK_FILTERS, anchor, with_icon

    stem = executed.stem
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    headings = [line.lstrip("#").strip() for line in first.splitlines() if line.startswith("#")]
    title = headings[0] if headings else stem
    results = target.parent.parent / "results" / f"{stem}.json"
    links = {
        "title": title,
        "report": f"../../../index.html#{anchor(stem)}",
        "ipynb": executed.name,
        "results": f"../results/{stem}.json" if results.is_file() else None,
    }
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file="notebook.html.j2",
        embed_images=True,
        filters=NOTEBOOK_FILTERS,
    )
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title}, "nnreg": links}
    )
    target.write_text(
        with_icon(sanitize.page(body)), encoding="utf-8"
    )  # runs nothing, fetches nothing


def _finish(out: Path, job: Plan, duration: float, models: int) -> dict[str, Any]:
    """Write the HTML page and the stamp (with the exercises) beside what the notebook wrote, then
    check the run whole, as the report will read it, before it may replace the landed one."""
    stem = job.stem
    executed = out / "notebooks" / f"{stem}.ipynb"
    if not (out / "results" / f"{stem}.json").is_file():
        raise NotebookError(
            f"notebook {stem} ran to its end without writing its results: a cell stopped it early "
            f"(sys.exit, exit()), or it never calls rec.write(); the landed run is unchanged"
        )
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)  # read once, for the page and the exercises
    export_html(nb, executed, out / "notebooks" / f"{stem}.html")
    stamp = {
        "notebook": stem,
        "profile": job.profile,
        "parameters": job.parameters,
        "overrides": job.overrides,
        "duration": round(duration, 1),
        "models": models,
        "exercises": exercises(nb),
    }
    (out / landing.STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    fix = (
        "the notebook wrote a run the report cannot read, so it did not replace the landed run; "
        "repair the notebook"
    )
    try:
        return landing.check_run(out, complete=True, stem=stem, fix=fix).results
    except ResultsError as err:
        raise ResultsError(str(err).replace(str(out), f"the new run of {stem}")) from None


_FULL = {
    errno.ENOSPC: "free some space on the disk that holds {reports}, or give --reports a "
    "directory on another disk",
    errno.EDQUOT: "free some of your disk quota, or give --reports a directory elsewhere",
    errno.EFBIG: "raise the file size limit (ulimit -f), or make the notebook write less",
    errno.EROFS: "give --reports a directory on a writable file system",
}


def _output_failure(
    err: Any, stem: str, out: Path, reports: Path, where: str
) -> OutputError | None:
    """A kernel that could not write its outputs (a full disk, a quota, a read-only file system):
    the reports directory's fault, not the notebook's (exit status 6, as for the runner's writes)."""
    found = re.match(r"\[Errno (\d+)\] ([^:]+)(?:: '(.*)')?", str(err.evalue))
    if not (err.ename in ("OSError", "IOError") and found and int(found[1]) in _FULL):
        return None
    path = found[3] or ""
    inside = str(out.resolve()) + os.sep
    what = path.removeprefix(inside) if path.startswith(inside) else (path or "its outputs")
    return OutputError(
        f"notebook {stem}, cell {err.exec_count}: cannot write {what} into {reports}: "
        f"{found[2].lower()}; {_FULL[int(found[1])].format(reports=reports)}, then run again"
        f"{where}"
    )


def _failure(err: BaseException, stem: str, where: str, cell_timeout: float | None) -> NnregError:
    """One message for each way a kernel can fail; an error of this package keeps its own type."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        kind = getattr(exceptions, err.ename, None)
        if isinstance(kind, type) and issubclass(kind, NnregError):
            return kind(f"notebook {stem}, cell {err.exec_count}: {err.evalue}{where}")
        return NotebookError(
            f"notebook {stem} failed in cell {err.exec_count}: {err.ename}: {err.evalue}{where}"
        )
    if isinstance(err, CellTimeoutError):
        return NotebookError(
            f"notebook {stem}: a cell ran longer than {cell_timeout:g} s "
            f"(--cell-timeout) and was stopped{where}"
        )
    if isinstance(err, DeadKernelError):
        return NotebookError(
            f"notebook {stem}: the kernel died while running (killed, or out of "
            f"memory: try smaller sizes){where}"
        )
    raise err


def kernel_argv() -> list[str]:
    """The command that starts a notebook's kernel: this Python's ipykernel."""
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return [*argv, "--IPKernelApp.capture_fd_output=False"]


def _did_not_start(err: RuntimeError) -> bool:
    """Whether jupyter_client gave up on a kernel before it ran a cell (it died at start, or never
    answered): then nothing of the notebook has run, and starting it again is safe."""
    return str(err).startswith(("Kernel died before replying", "Kernel didn't respond"))


def _this_python_kernel(work: Path) -> str:
    """A `python3` kernel spec in `work` that runs this very Python, and JUPYTER_PATH with it
    first: another `python3` spec (a system Jupyter's, another environment's) would start a
    kernel without this environment's packages. The kernel leaves what C libraries write to file
    descriptor 2 there (the kernel log) instead of showing it in the notebook: TensorFlow's start-up
    lines, which `import keras` writes before any setting can silence them."""
    spec = work / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    kernel = {"argv": kernel_argv(), "display_name": "Python 3", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return os.pathsep.join(
        [str((work / "jupyter").resolve()), *filter(None, [os.environ.get("JUPYTER_PATH")])]
    )


def _keep_failed(job: Plan, layout: Layout, work: Path, executed: Path) -> str:
    """Keep the failed notebook and its kernel log in failed/; say where (or why they could not
    be kept: the notebook's own error is the one to report)."""
    kept, log = layout.failed(job.stem, ".ipynb"), layout.failed(job.stem, ".kernel.log")
    try:
        if executed.exists():
            landing.move_file(executed, kept)
        landing.keep_log(work / "kernel.log", log, job.stem)
    except OutputError as err:
        return f"\n  the executed notebook and its kernel log could not be kept: {err}"
    return f"\n  executed notebook kept at {kept}; kernel log at {log}"


def _execute(
    job: Plan, layout: Layout, work: Path, label: str, cell_timeout: float | None
) -> float:
    """Run the notebook in `work` with its outputs in `work/out`; return the run time in seconds."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    out = work / "out"
    executed = out / "notebooks" / f"{job.stem}.ipynb"
    executed.parent.mkdir(parents=True)
    for private in ("runtime", "tmp"):
        (work / private).mkdir()
    env = {
        recording.OUTPUT_DIR_ENV: str(out.resolve()),
        recording.NOTEBOOK_ENV: job.stem,
        recording.PROFILE_ENV: job.profile,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "agg",
        recording.PROGRESS_ENV: str((work / "progress").resolve()),
        "JUPYTER_RUNTIME_DIR": str((work / "runtime").resolve()),  # kernel connection files
        "JUPYTER_PATH": _this_python_kernel(work),
        "TMPDIR": str((work / "tmp").resolve()),  # the kernel's temporary files, deleted with work
        "PYTHONUTF8": "1",  # files are read and written as UTF-8 whatever the locale
    }
    # The kernel's connection file (its ports and HMAC key) goes with the work directory too:
    # jupyter_client would otherwise write it to the system's temporary folder, where a killed
    # run leaves it.
    from traitlets.config import Config

    connection_file = str((work / "runtime" / "kernel.json").resolve())
    connection = Config({"KernelManager": {"connection_file": connection_file}})
    start = time.perf_counter()
    previous = landing.read_stamp(layout.run_dir(job.stem))
    # A kernel that dies before it answers has run nothing: it is started once more. Kernels
    # started side by side can race for the same free port (jupyter_client picks the ports, then
    # the kernel binds them), and the loser dies at start.
    for attempt in (1, 2):
        try:
            with (
                _environment(env),
                stderr_to(work / "kernel.log"),
                progress_mod.Display(label, work / "progress", previous),
            ):
                papermill.execute_notebook(
                    str(job.notebook),
                    str(executed),
                    parameters=job.inject,
                    kernel_name="python3",
                    cwd=str(job.notebook.parent),
                    progress_bar=False,
                    log_output=False,
                    execution_timeout=cell_timeout,
                    config=connection,
                    # Once the last cell has run, the kernel is stopped at once: waiting for it
                    # to exit by itself takes seconds with TensorFlow loaded (2.4 s after one
                    # `import keras` cell, more after training), and every file the notebook
                    # wrote is closed by then (the run is checked whole below).
                    shutdown_kernel="immediate",
                )
            break
        except (PapermillExecutionError, CellTimeoutError, DeadKernelError) as err:
            # (before RuntimeError: a DeadKernelError is one)
            where = _keep_failed(job, layout, work, executed)
            full = (
                _output_failure(err, job.stem, out, layout.reports, where)
                if isinstance(err, PapermillExecutionError)
                else None
            )
            raise (full or _failure(err, job.stem, where, cell_timeout)) from None
        except RuntimeError as err:
            if not _did_not_start(err):
                raise
            if attempt == 1:
                print(
                    f"note: the kernel of notebook {job.stem} did not start ({err}); starting it "
                    "once more",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            where = _keep_failed(job, layout, work, executed)
            raise NotebookError(
                f"notebook {job.stem}: its kernel did not start, twice ({err}); the kernel log "
                f"says why{where}"
            ) from None
    return time.perf_counter() - start


def _beside(job: Plan, layout: Layout) -> str:
    """Where a run lands: a one-off run beside the landed profile run of the same profile (its
    baseline, which the report shows with it) as `<stem>+one-off`; any other run as `<stem>`."""
    landed = landing.read_stamp(layout.run_dir(job.stem))
    if job.overrides and landed and landed["profile"] == job.profile and not landed["overrides"]:
        return job.stem + landing.ONE_OFF
    return job.stem


def baseline_profile(layout: Layout, selectors: list[str]) -> str | None:
    """The profile of the landed runs of the notebooks `selectors` name, when it is one: a one-off
    run without --profile keeps the profile of the run it varies."""
    chosen = pick(notebooks_in(layout.tutorials), selectors) if selectors else []
    found = {(landing.read_stamp(layout.run_dir(nb.stem)) or {}).get("profile") for nb in chosen}
    return found.pop() if len(found) == 1 and None not in found else None


def _landed_since(job: Plan, layout: Layout, since: float) -> bool:
    """Whether another run has landed exactly this job since `since` (two `make report` at once)."""
    stamp = landing.read_stamp(layout.run_dir(job.stem))
    return (
        bool(stamp)
        and (layout.run_dir(job.stem) / landing.STAMP).stat().st_mtime >= since
        and stamp["profile"] == job.profile
        and stamp["parameters"] == job.parameters
    )


def run_notebook(
    job: Plan,
    layout: Layout = Layout(),
    label: str = "",
    wait: bool = True,
    cell_timeout: float | None = None,
    since: float | None = None,
) -> dict[str, Any] | None:
    """Execute one planned notebook and land its outputs; return its validated results, or None
    when another run has landed exactly this job since `since` (then nothing is run again)."""
    stem, reports = job.stem, layout.reports
    with landing.lock(reports, stem, wait=wait):
        if since is not None and _landed_since(job, layout, since):
            return None
        landing.restore(reports, stem)
        work = landing.work_directory(reports, stem)
        try:
            duration = _execute(job, layout, work, label, cell_timeout)
            out = work / "out"
            with landing.writing(out):
                try:
                    results = _finish(out, job, duration, progress_mod.latest(work / "progress")[0])
                except (NotebookError, ResultsError) as err:
                    where = _keep_failed(job, layout, work, out / "notebooks" / f"{stem}.ipynb")
                    raise type(err)(f"{err}{where}") from None
                if _is_one_off(job, layout):  # make sees it as older than its sources: rerun
                    os.utime(out / landing.STAMP, (0, 0))
            name = _beside(job, layout)
            landing.land(out, reports, name)
            if name == stem:  # the profile's run: a one-off beside the one it replaced goes
                landing.remove(layout.run_dir(stem + landing.ONE_OFF))
            for suffix in (".ipynb", ".kernel.log"):
                landing.remove(layout.failed(stem, suffix))
            with contextlib.suppress(OSError):
                (reports / "failed").rmdir()  # when empty
            return results
        finally:
            landing.remove(work)


def prune(layout: Layout, notebooks: list[Path]) -> None:
    """Drop outputs of notebooks no longer in tutorials/, and undo what killed runs left; refuse a
    reports directory holding anything this package did not write (it deletes only its own), and
    refuse to drop runs when the notebooks are none, or are the package's copy found for want of
    tutorials/ (the runs are then another lesson folder's)."""
    stems = {nb.stem for nb in notebooks}
    reports = layout.reports
    landing.check_reports(reports)
    if not reports.is_dir():
        return
    landing.recover(reports)
    runs = [p for p in (reports / landing.RUNS).glob("*") if not p.name.startswith(".")]
    drop = sorted(p.name for p in runs if landing.notebook_of(p.name) not in stems)
    failed = [p for p in (reports / landing.FAILED).glob("*") if p.name.split(".")[0] not in stems]
    if (drop or failed) and (not stems or layout.installed):
        where = (
            f"the lessons installed with the package ({layout.tutorials}), found as there is no "
            f"tutorials/ here,"
            if stems
            else f"no notebooks in {layout.tutorials} ({Path(layout.tutorials).absolute()}):"
        )
        what = (
            "every run"
            if drop and len(drop) == len(runs)
            else f"the outputs of {', '.join(drop) or 'failed runs'}"
        )
        raise UsageError(
            f"{where} pruning would drop {what} in {reports}; run from the project's directory "
            f"(the one that holds tutorials/), or give --tutorials DIR"
        )
    for name in drop:
        if not landing.is_locked(reports, name):
            landing.remove(reports / landing.RUNS / name)
    for path in failed:
        landing.remove(path)


def stale(profile: str, layout: Layout = Layout()) -> list[Path]:
    """What `make report` must redo for `profile`, after the checks a run of every notebook makes
    first (the profile, each notebook's parameters, the environment, the reports directory): the
    stamps of landed runs that are damaged or incomplete, or are not this profile's run with its
    parameters (a one-off run), whatever their files' times say. Killed runs are undone first."""
    notebooks = notebooks_in(layout.tutorials)
    values = profiles.load_profile(layout.profile_path(profile), [nb.stem for nb in notebooks])
    jobs = [plan(nb, profile, values.get(nb.stem, {}), {}) for nb in notebooks]
    check_environment()
    landing.check_reports(layout.reports)
    landing.recover(layout.reports)
    for one_off in (layout.reports / landing.RUNS).glob(f"*{landing.ONE_OFF}"):
        landing.remove(one_off)  # a one-off beside its baseline stays until the next make report
    redo = []
    for job in jobs:
        run_dir = layout.run_dir(job.stem)
        if not os.path.lexists(run_dir):
            continue  # make runs it: its stamp is missing
        try:
            found = landing.check_run(run_dir, complete=True).stamp
        except ResultsError as err:
            why = str(err).split("; rerun")[0]
        else:
            same = json.loads(json.dumps(job.parameters)) == found["parameters"]
            if found["profile"] == profile and not found["overrides"] and same:
                continue
            why = f"{run_dir} is not the profile's run (profile {found['profile']}"
            why += f", one-off values {found['overrides']})" if found["overrides"] else ")"
        print(f"note: {why}; make reruns it", file=sys.stderr)
        redo.append(run_dir / landing.STAMP)
    return redo


def run(
    selectors: list[str],
    profile: str,
    layout: Layout = Layout(),
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    wait: bool = True,
    cell_timeout: float | None = None,
    number_among_all: bool = False,
) -> list[dict[str, Any]]:
    """Check every selected notebook's parameters first, then execute them one by one.

    `number_among_all` numbers each notebook by its place among all notebooks (`[2/4]`), for make,
    which runs one notebook per process."""
    notebooks = notebooks_in(layout.tutorials)
    chosen = pick(notebooks, selectors)
    stems = [nb.stem for nb in notebooks]
    # A profile may name lessons the package ships that this folder does not hold (a teacher
    # keeps the lessons of one class); any other name is a mistake the profile check reports,
    # except in a run of some notebooks only, which notes it.
    absent = [stem for stem in lesson_stems() if stem not in stems]
    profile_values = profiles.load_profile(
        layout.profile_path(profile), stems, absent, allow_unknown=bool(selectors)
    )
    unknown = sorted(set(profile_values) - set(stems))
    if unknown:
        print(
            f"note: profile {layout.profile_path(profile)} has sections for notebooks not in "
            f"{layout.tutorials} ({', '.join(unknown)}); a run of every notebook stops on them",
            file=sys.stderr,
        )
    started = time.time()
    jobs = [plan(nb, profile, profile_values.get(nb.stem, {}), extra or {}) for nb in chosen]
    check_environment()
    prune(layout, notebooks)
    all_results = []
    for i, job in enumerate(jobs, 1):
        place = (
            f"[{notebooks.index(job.notebook) + 1}/{len(notebooks)}]"
            if number_among_all
            else f"[{i}/{len(jobs)}]"
        )
        one_off = (
            ", one-off: " + " ".join(f"-p {k} {v}" for k, v in job.overrides.items())
            if job.overrides
            else ""
        )
        label = f"{place} {job.stem} (profile {profile}{one_off})"
        start = time.perf_counter()
        if progress:
            print(f"{label} ...", flush=True)
        try:
            results = run_notebook(
                job, layout, label if progress else "", wait, cell_timeout, started
            )
        except BaseException:
            if progress:
                print(f"{label} failed", flush=True)
            raise
        if results is None:
            results = contract.load(layout.run_dir(job.stem) / "results" / f"{job.stem}.json")
            if progress:
                print(
                    f"{label}: the other run has just produced it with the same parameters",
                    flush=True,
                )
        elif progress:
            print(f"{label} done in {time.perf_counter() - start:.1f} s", flush=True)
        all_results.append(results)
    return all_results
