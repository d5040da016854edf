"""Command line: `python -m nnreg_keras run [NOTEBOOK ...]` and `python -m nnreg_keras report`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from nnreg_keras.exceptions import NnregError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnreg_keras", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute tutorial notebooks through papermill")
    run.add_argument("notebooks", nargs="*", help="number (01), stem or path; default: all")
    run.add_argument("--profile", default="default", help="parameter profile in params/ (default: default)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter for this run (VALUE is read as YAML)")
    report = sub.add_parser("report", help="build reports/index.html from reports/results/*.json")
    for p in (run, report):
        p.add_argument("--reports", type=Path, default=Path("reports"), help="output directory")
    run.add_argument("--tutorials", type=Path, default=Path("tutorials"), help="notebook directory")
    run.add_argument("--params", type=Path, default=Path("params"), help="profile directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with a one-screen message)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from nnreg_keras.runner import Layout, run

            extra = {name: yaml.safe_load(value) for name, value in args.parameter}
            run(args.notebooks, args.profile, Layout(args.tutorials, args.params, args.reports), extra)
        else:
            from nnreg_keras.report import build

            print(f"report written to {build(args.reports)}")
    except NnregError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
