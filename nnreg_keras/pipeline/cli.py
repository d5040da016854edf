"""Command line: `nnreg-keras run [NOTEBOOK ...]`, `report`, `init DIR` and `student DIR` (also
`python -m nnreg_keras ...`).

`run` and `student` work on the lessons of the current directory (`tutorials/`, or the notebooks
here), else on the copy installed with the package (see `nnreg_keras.pipeline.lessons`); reports go
to `reports/` here. `run` rebuilds the report after its notebooks.

Exit status: 0 done; 2 bad input (a parameter, a profile, a data file, a directory without
notebooks or runs, an unknown KERAS_BACKEND); 3 a notebook failed (an error in a cell, a dead
kernel, a cell timeout); 4 training diverged; 5 a landed run is damaged or its results break the
contract (the message names the `run` that repairs it); 6 reports/ cannot be written (permissions,
a full disk) or holds files this package did not write; 7 another run holds a notebook's lock
(with --no-wait); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Every error is one short
message on stderr that names the cause and the fix.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
from pathlib import Path

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline.files import _reason

UNCHANGED = "the previous report is unchanged"
SIGNALS = {"SIGTERM": 143, "SIGHUP": 129}  # SIGHUP: the terminal was closed


class Terminated(BaseException):
    """SIGTERM (sent by `timeout`, CI, docker) or SIGHUP (a closed terminal), raised so that every
    cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM):
        self.name = signal.Signals(signum).name
        super().__init__(self.name)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


class _Output:
    """Standard output that goes on working when its reader goes away (`| head -1`) or its disk is
    full (`> /dev/full`): the command finishes its work, and says once on stderr what was lost."""

    def __init__(self, stream):
        self.stream, self.lost = stream, None

    def _lose(self, err: OSError) -> None:
        self.lost = err
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                self.stream.write(text)
            except OSError as err:
                self._lose(err)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self.stream.flush()
            except OSError as err:
                self._lose(err)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def state(reports: Path | None) -> str:
    """What reports/ holds now, for a message after a failure: unchanged, or which runs landed
    without the report being rebuilt since."""
    from nnreg_keras.pipeline import landing

    if not landing.LANDED:
        return UNCHANGED
    where = reports or Path("reports")
    return (
        f"the new run of {', '.join(landing.LANDED)} landed in {where / 'runs'}, but "
        f"{where / 'index.html'} was not rebuilt since: `nnreg-keras report` rebuilds it"
    )


def _quiet_abandoned_tasks() -> None:
    """An interrupted run abandons the notebook client's pending cell task; when the interpreter
    collects it at exit, asyncio would log its "Kernel died" traceback below our one-line message."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def missing_module(err: ModuleNotFoundError) -> str:
    """One line for a dependency missing from the Python that runs the command."""
    return (
        f"{err.name} is not installed for {sys.executable}, so nnreg_keras cannot run there: use "
        "the nnreg-keras command of the environment it is installed in, or install it in this "
        "one (pip install nnreg_keras, or pip install -e . in a checkout)"
    )


def seconds(text: str) -> float:
    """A --cell-timeout: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds above 0; give one (--cell-timeout 600), or "
            f"leave the option out for no limit"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnreg-keras",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute tutorial notebooks through papermill")
    run.add_argument("notebooks", nargs="*", help="number (01), stem or path; default: all")
    run.add_argument(
        "--profile",
        default=None,
        help="parameter profile in params/ (default: the last full report's, else default)",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override one parameter for this run (VALUE is read as YAML); the report "
        "marks the run as one-off and `make report` reruns it with the profile",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="stop (exit 7) instead of waiting when another run holds a notebook",
    )
    run.add_argument(
        "--cell-timeout",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="stop a notebook whose cell runs longer than this",
    )
    run.add_argument(
        "--number-among-all",
        action="store_true",
        help="number notebooks by their place among all tutorials ([2/4]), as make does",
    )
    run.add_argument(
        "--no-report",
        action="store_true",
        help="do not rebuild reports/index.html after the run (make builds it once at the end)",
    )
    report = sub.add_parser("report", help="build reports/index.html from reports/runs/*/")
    student = sub.add_parser(
        "student", help="write student editions (solution regions blanked, outputs stripped)"
    )
    for p in (run, report, student):
        if p is not student:
            p.add_argument(
                "--reports", type=Path, default=None, help="output directory (default: reports)"
            )
        p.add_argument(
            "--tutorials",
            type=Path,
            default=None,
            help="notebook directory (default: tutorials/ here, the notebooks here, else the "
            "package's own lessons)",
        )
    report.add_argument(
        "--prune",
        action="store_true",
        help="first drop the outputs of notebooks no longer in --tutorials",
    )
    run.add_argument(
        "--params",
        type=Path,
        default=None,
        help="profile directory (default: params/ here, else the package's)",
    )
    student.add_argument("directory", type=Path, help="where the editions go (created)")
    init = sub.add_parser(
        "init", help="write a lesson folder: the notebooks, the profiles and a README"
    )
    init.add_argument("directory", type=Path, help="a new directory (nothing is overwritten)")
    check = sub.add_parser(
        "check",
        help="check a profile, the environment and reports/ as a run of every notebook does, "
        "and print the stamps of landed runs to redo (make's first step)",
    )
    check.add_argument("--profile", default="default", help="parameter profile in params/")
    check.add_argument("--params", type=Path, default=Path("params"), help="profile directory")
    check.add_argument("--reports", type=Path, default=Path("reports"), help="output directory")
    check.add_argument("--tutorials", type=Path, default=Path("tutorials"), help="notebooks")
    return parser


def _values_kept(argv: list[str]) -> list[str]:
    """argparse reads a VALUE such as -1e-3 after -p as an option; a leading space keeps it a value."""
    argv = list(argv)
    for i, arg in enumerate(argv[:-2]):
        if arg in ("-p", "--parameter") and argv[i + 2].startswith("-"):
            argv[i + 2] = " " + argv[i + 2]
    return argv


def _lessons(args: argparse.Namespace):  # -> lessons.Lessons
    from nnreg_keras.pipeline import lessons

    found = lessons.find(
        args.tutorials, getattr(args, "params", None), getattr(args, "reports", None)
    )
    if found.note():
        print(found.note(), flush=True)
    return found


def _run(args: argparse.Namespace) -> None:
    from nnreg_keras.pipeline import lessons
    from nnreg_keras.pipeline.profiles import override_values
    from nnreg_keras.pipeline.report import build
    from nnreg_keras.pipeline.runner import Layout, baseline_profile, run

    where = _lessons(args)
    extra = override_values(args.parameter)
    layout = Layout(where.tutorials, where.params, where.reports, where.found == "package")
    profile = (
        args.profile
        or (baseline_profile(layout, args.notebooks) if extra else None)
        or lessons.last_profile(where.reports, where.params)
    )
    if not args.notebooks and not extra and where.params.joinpath(f"{profile}.yaml").is_file():
        lessons.remember_profile(where.reports, profile)  # a full report of this profile
    run(
        args.notebooks,
        profile,
        layout,
        extra,
        wait=not args.no_wait,
        cell_timeout=args.cell_timeout,
        number_among_all=args.number_among_all,
    )
    if not args.no_report:
        print(f"report written to {build(where.reports)}")


def _main(args: argparse.Namespace) -> None:
    if args.command == "run":
        _run(args)
    elif args.command == "init":
        from nnreg_keras.pipeline import lessons

        written = lessons.init(args.directory)
        notebooks = [p for p in written if p.suffix == ".ipynb"]
        print(
            f"wrote {args.directory}/: {len(notebooks)} notebooks and the teachers' guide in "
            f"tutorials/, the profiles in params/, README.md\n"
            f"next: cd {args.directory} && nnreg-keras run --profile quick"
        )
    elif args.command == "student":
        from nnreg_keras.pipeline import student

        where = _lessons(args)
        written = student.write_editions(where.tutorials, args.directory)
        print(f"wrote {len(written)} student editions to {args.directory}/")
    elif args.command == "check":
        from nnreg_keras.pipeline.runner import Layout, stale

        for stamp in stale(args.profile, Layout(args.tutorials, args.params, args.reports)):
            print(stamp)
    else:
        from nnreg_keras.pipeline.report import build
        from nnreg_keras.pipeline.runner import Layout, discover, prune

        reports = args.reports or Path("reports")
        if args.prune:
            where = _lessons(args)
            prune(
                Layout(where.tutorials, reports=reports, installed=where.found == "package"),
                discover(where.tutorials),
            )
        print(f"report written to {build(reports)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status, with a one-screen message for every error."""
    from nnreg_keras.pipeline import contract, landing

    args = _parser().parse_args(_values_kept(sys.argv[1:] if argv is None else argv))
    names = [name for name in SIGNALS if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), _terminate) for name in names}
    stdout, sys.stdout = sys.stdout, _Output(sys.stdout)
    landing.LANDED.clear()
    reports = getattr(args, "reports", None)
    try:
        with contract.jsonschema_without_iri():  # nbformat's jsonschema, 0.8 s sooner
            _main(args)
        landing.LANDED.clear()  # the report was rebuilt after them, or was not asked for
    except NnregError as err:
        where = f"; {state(reports)}" if landing.LANDED else ""
        print(f"error: {err}{where}", file=sys.stderr)
        return err.exit_code
    except ModuleNotFoundError as err:
        if (err.name or "").startswith("nnreg_keras"):
            raise
        print(f"error: {missing_module(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _quiet_abandoned_tasks()
        print(f"\nerror: interrupted; {state(reports)}", file=sys.stderr)
        return 130
    except Terminated as err:
        _quiet_abandoned_tasks()
        print(f"error: terminated ({err.name}); {state(reports)}", file=sys.stderr)
        return SIGNALS[err.name]
    except OSError as err:
        reason = err.strerror.lower() if err.strerror else str(err)
        print(
            f"error: cannot write {err.filename or 'an output'}: {reason}; {state(reports)}\n"
            f"check the permissions and the free space there, then run again",
            file=sys.stderr,
        )
        return 6
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
        lost, sys.stdout = sys.stdout.lost, stdout
    if lost is not None:
        with contextlib.suppress(OSError):
            print(
                f"note: the command did its work, but its messages could not all be written to "
                f"the standard output ({_reason(lost)})",
                file=sys.stderr,
            )
    return 0
