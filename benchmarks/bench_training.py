"""Training speed side by side in one run: `make bench`.

Three measurements, each printed with its ratio:
1. Seconds per model for N models of one architecture (2-128-128-1 with dropout, 200 examples,
   1,500 full-batch Adam steps): a new compiled model traced for each (naive) against
   `fit_full_batch`, which reuses the traced training function of the first model of an architecture.
2. Milliseconds per step of `fit_full_batch` against the numpy twin (`scratch.train`) on the
   course's [2, 20, 3, 1] net with 211 examples: no regularization, L2, dropout.
Both run once per installed Keras backend, each in its own process (`KERAS_BACKEND`).
3. Wall time of `make report PROFILE=quick` and `make -j2 report PROFILE=quick`, each in a fresh
   temporary copy of the project (the real `reports/` is left alone).

`--models N` sets N; `--skip-report` leaves out 3; `--backends jax,torch` picks the backends.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
SWEEP_STEPS, SWEEP_RECORD_EVERY = 1500, 150
COURSE_DIMS, COURSE_M, COURSE_STEPS, COURSE_RECORD_EVERY = [2, 20, 3, 1], 211, 3000, 1000
COURSE_VARIANTS = {
    "no regularization": {},
    "L2 (lambd 0.7)": {"lambd": 0.7},
    "dropout (keep_prob 0.86)": {"keep_prob": 0.86},
}


def measure_backend(n_models: int) -> dict:
    """Both training measurements on the backend this process runs; plain numbers for the parent."""
    from nnreg_keras import scratch, twin
    from nnreg_keras.data import make_goalkeeper
    from nnreg_keras.training import fit_full_batch, keras, set_seed

    can_opt_out = "reuse" in inspect.signature(fit_full_batch).parameters
    sweep_data = make_goalkeeper(n_train=200, n_test=10, seed=0)

    def sweep_model(seed: int) -> keras.Model:
        set_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        return model

    def seconds_per_model(reuse: bool) -> float:
        start = time.perf_counter()
        for seed in range(n_models):
            options = {"reuse": reuse} if can_opt_out else {}
            fit_full_batch(
                sweep_model(seed),
                sweep_data.x_train,
                sweep_data.y_train,
                SWEEP_STEPS,
                SWEEP_RECORD_EVERY,
                **options,
            )
        return (time.perf_counter() - start) / n_models

    result = {
        "backend": keras.backend.backend(),
        "naive": seconds_per_model(False),
        "library": seconds_per_model(True),
        "course": {},
    }

    data = make_goalkeeper(n_train=COURSE_M, n_test=10, seed=3)
    X, Y, _, _ = scratch.from_dataset(data)
    init = scratch.initialize_parameters(COURSE_DIMS, seed=3)
    for name, options in COURSE_VARIANTS.items():
        set_seed(3)
        model = twin.build_twin(COURSE_DIMS, 0.3, m=COURSE_M, parameters=init, **options)
        fit_full_batch(
            model, data.x_train, data.y_train, COURSE_RECORD_EVERY, COURSE_RECORD_EVERY
        )  # traces
        start = time.perf_counter()
        fit_full_batch(model, data.x_train, data.y_train, COURSE_STEPS, COURSE_RECORD_EVERY)
        keras_ms = 1000 * (time.perf_counter() - start) / COURSE_STEPS
        start = time.perf_counter()
        scratch.train(
            X,
            Y,
            0.3,
            COURSE_STEPS,
            layer_dims=COURSE_DIMS,
            record_every=COURSE_RECORD_EVERY,
            eval_sets={"train": (X, Y)},
            **options,
        )
        numpy_ms = 1000 * (time.perf_counter() - start) / COURSE_STEPS
        result["course"][name] = {"keras": keras_ms, "numpy": numpy_ms}
    return result


def run_backend(backend: str, n_models: int) -> dict | str:
    """`measure_backend` in a child process with KERAS_BACKEND=backend; the reason when it cannot run."""
    if importlib.util.find_spec(backend) is None:
        return f"{backend} is not installed"
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.run(
        [sys.executable, __file__, "--worker", "--models", str(n_models)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if child.returncode:
        return f"{backend} failed: {child.stderr.strip().splitlines()[-1] if child.stderr.strip() else child.returncode}"
    return json.loads(child.stdout.strip().splitlines()[-1])


def make_report_seconds(jobs: int) -> float:
    """Wall time of `make -jJOBS report PROFILE=quick` in a fresh copy of the project."""
    with tempfile.TemporaryDirectory(prefix="nnreg-bench-") as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(
            ROOT, copy, ignore=shutil.ignore_patterns(".venv", "reports", ".git", "__pycache__")
        )
        venv = os.environ.get("VENV", str(ROOT / ".venv"))
        for spec in (
            "requirements.txt",
            "requirements.txt",
            "pyproject.toml",
        ):  # make must not reinstall
            if (copy / spec).exists():
                os.utime(copy / spec, (0, 0))
        start = time.perf_counter()
        env = {
            **os.environ,
            "PYTHONPATH": str(copy),
        }  # the copy's package, also in the notebooks' kernels
        subprocess.run(
            ["make", f"-j{jobs}", "report", "PROFILE=quick", f"VENV={venv}"],
            cwd=copy,
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        return time.perf_counter() - start


def print_table(
    results: dict[str, dict | str], n_models: int, report: dict[int, float] | None
) -> None:
    print(
        f"\nSeconds per model: {n_models} models 2-128-128-1 with dropout, 200 examples, "
        f"{SWEEP_STEPS} Adam steps (records every {SWEEP_RECORD_EVERY})"
    )
    print(
        f"  {'backend':<11} {'naive: new model traced':>24} {'fit_full_batch':>15} {'naive / library':>16}"
    )
    for backend, r in results.items():
        if isinstance(r, str):
            print(f"  {backend:<11} skipped: {r}")
            continue
        print(
            f"  {backend:<11} {r['naive']:>22.2f} s {r['library']:>13.2f} s {r['naive'] / r['library']:>15.1f}x"
        )
    print(
        f"\nMilliseconds per step, course net {COURSE_DIMS}, {COURSE_M} examples, {COURSE_STEPS} steps "
        f"(records every {COURSE_RECORD_EVERY})"
    )
    print(f"  {'backend':<11} {'variant':<26} {'Keras':>9} {'numpy':>9} {'Keras / numpy':>14}")
    for backend, r in results.items():
        if isinstance(r, str):
            continue
        for name, t in r["course"].items():
            print(
                f"  {backend:<11} {name:<26} {t['keras']:>9.3f} {t['numpy']:>9.3f} {t['keras'] / t['numpy']:>13.2f}x"
            )
    if report:
        print("\nWall time of the quick profile, every notebook, default backend")
        for jobs, seconds in report.items():
            print(
                f"  make -j{jobs} report PROFILE=quick  {seconds:7.1f} s   {seconds / report[1]:5.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="models per architecture (default 6)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated Keras backends"
    )
    parser.add_argument("--skip-report", action="store_true", help="do not time make report")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure_backend(args.models)))
        return
    results = {}
    for backend in args.backends.split(","):
        print(f"measuring {backend} ...", flush=True)
        results[backend] = run_backend(backend, args.models)
    report = None if args.skip_report else {jobs: make_report_seconds(jobs) for jobs in (1, 2)}
    print_table(results, args.models, report)


if __name__ == "__main__":
    main()
