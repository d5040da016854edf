"""Where each notebook's time goes, from one run of each: `make bench` (or run this file).

Every notebook of tutorials/ runs once, one at a time, with the profile given (default: default),
into a temporary reports directory, with NNREG_PHASES set so that the training library counts its
phases (`training.PHASES`): import (the kernel's start until Keras is loaded), build (a Sequential's
build with its layers' weights, optimizers, seed generators, clones), trace (the first call of each
compiled function, its own steps included), steps (training calls after the first), evaluate
(records, `predict`, `predict_many`). "other" is the rest of the run's wall time: the notebook's own
numpy code, plots, papermill's saving, the kernel's start and the landing. The last lines say the
time outside training steps against the steps' time, and the floor under it: what a notebook that
only imports Keras and writes its results takes through the same runner, once per notebook. A run of
every notebook at the default profile also writes each one's total to
benchmarks/notebook_seconds.txt, the order `make report` starts them in before any run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("import", "build", "trace", "steps", "evaluate")


def run_notebook(stem: str, profile: str, reports: Path, counts: Path) -> dict[str, float]:
    """Seconds per phase of one run of the notebook, and its wall time ("total")."""
    counts.mkdir(parents=True)
    env = {**os.environ, "NNREG_PHASES": str(counts)}
    command = [sys.executable, "-m", "nnreg_keras", "run", stem, "--profile", profile]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--reports", str(reports)], cwd=ROOT, env=env, check=True, capture_output=True
    )
    found = {"total": time.perf_counter() - start, **dict.fromkeys(PHASES, 0.0)}
    for path in counts.glob("*.json"):
        counted = json.loads(path.read_text())
        if counted["steps"] or counted["trace"] or counted["build"] or counted["evaluate"]:
            for phase in PHASES:  # the kernel's counts (the runner process imports no Keras)
                found[phase] += counted[phase]
    found["other"] = found["total"] - sum(found[p] for p in PHASES)
    return found


FLOOR_STEM = "00_floor"
FLOOR_BODY = """{imports}
from nnreg_keras.recording import Recorder

rec = Recorder("00_floor", title="The floor", questions=["What does every notebook cost?"],
               seeds=seeds)
rec.verdict("It ran its imports.")
rec.write()
"""


def floor_seconds(imports: str = "import keras", runs: int = 2) -> float:
    """The least wall time, over `runs` runs, of a notebook that only runs `imports` and writes its
    results, run as `run_notebook` runs the lessons: the runner's start, a kernel, `import keras`,
    the page and the landing. Every notebook pays it before its first model; with
    `imports="import numpy"`, the package's own part of it."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="nnreg-floor-") as tmp:
        project = Path(tmp)
        notebook = nbformat.v4.new_notebook()
        parameters = nbformat.v4.new_code_cell(
            "seeds: list[int] = [0]  # seeds; each in [0, 2**31); at least 1; distinct"
        )
        parameters.metadata["tags"] = ["parameters"]
        notebook.cells = [parameters, nbformat.v4.new_code_cell(FLOOR_BODY.format(imports=imports))]
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        (project / "tutorials").mkdir()
        (project / "params").mkdir()
        nbformat.write(notebook, str(project / "tutorials" / f"{FLOOR_STEM}.ipynb"))
        (project / "params" / "default.yaml").write_text("{}\n")
        command = [sys.executable, "-m", "nnreg_keras", "run", FLOOR_STEM, "--no-report"]
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(command, cwd=project, check=True, capture_output=True)
            best = min(best, time.perf_counter() - start)
    return best


def print_phases(
    results: dict[str, dict[str, float]],
    profile: str,
    floor: tuple[float, float] | None = None,
) -> None:
    """The table, the time outside the steps, and the floor (with and without `import keras`)."""
    columns = (*PHASES, "other", "total")
    print(f"\nSeconds per phase, one run of each notebook, profile {profile}, one at a time")
    print(f"  {'notebook':<40}" + "".join(f"{c:>9}" for c in columns))
    sums = dict.fromkeys(columns, 0.0)
    for stem, found in results.items():
        print(f"  {stem[:40]:<40}" + "".join(f"{found[c]:>9.1f}" for c in columns))
        for c in columns:
            sums[c] += found[c]
    print(f"  {'all':<40}" + "".join(f"{sums[c]:>9.1f}" for c in columns))
    outside = sums["total"] - sums["steps"]
    ratio = outside / sums["steps"] if sums["steps"] else float("inf")
    print(
        f"  time outside training steps: {outside:.1f} s, {ratio:.1f} x the steps' {sums['steps']:.1f} s"
    )
    if floor is not None:
        n, (keras_floor, own) = len(results), floor
        share = n * keras_floor / sums["steps"] if sums["steps"] else float("inf")
        print(
            f"  the floor: a notebook that only imports Keras and writes its results takes "
            f"{keras_floor:.1f} s ({own:.1f} s without `import keras`); {n} of them "
            f"{n * keras_floor:.1f} s, {share:.2f} x the steps"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", help="params/<profile>.yaml (default)")
    parser.add_argument("notebooks", nargs="*", help="NN prefixes or stems (default: every one)")
    args = parser.parse_args()
    stems = sorted(p.stem for p in (ROOT / "tutorials").glob("*.ipynb"))
    if args.notebooks:
        stems = [s for s in stems if any(s.startswith(n) for n in args.notebooks)]
    results = {}
    with tempfile.TemporaryDirectory(prefix="nnreg-phases-") as tmp:
        for stem in stems:
            print(f"running {stem} ...", flush=True)
            results[stem] = run_notebook(
                stem, args.profile, Path(tmp) / "reports", Path(tmp) / stem
            )
    print("running a notebook that only imports Keras (the floor) ...", flush=True)
    floor = floor_seconds(), floor_seconds("import numpy")
    print_phases(results, args.profile, floor)
    if args.profile == "default" and not args.notebooks:
        write_seconds(results)


SECONDS = ROOT / "benchmarks" / "notebook_seconds.txt"


def write_seconds(results: dict[str, dict[str, float]]) -> None:
    """Each notebook's time at the default profile, for `make report` on a checkout that has run
    none yet: it starts the longest first (see RUNS_LONGEST_FIRST in the Makefile)."""
    lines = [f"{stem} {found['total']:.0f}" for stem, found in sorted(results.items())]
    header = "# seconds of each notebook at the default profile, one at a time (make bench)"
    SECONDS.write_text("\n".join([header, *lines]) + "\n")
    print(f"  written to {SECONDS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
