"""Training speed side by side in one run: `make bench`.

Four measurements, each printed with its ratio:
0. Model-steps per second on a 2-128-128-1 MLP (200 examples, full-batch Adam), without dropout,
   with `keras.layers.Dropout(0.5)` (Keras's masks, and `masks="fast"`: hashed masks) and with
   `models.BitsDropout(0.5)`, fast masks against BitsDropout at 16 models per call (target 0.9x
   or more): naive `model.fit` (one epoch
   per step), `fit_full_batch` one model at a time, and `fit_many` with 1, 8, 16 and 32 models per
   group, each against a floor: the same step written by hand in `jax.numpy` under `jax.jit`.
   Every number is the best of three rounds, and each round times every row once, in turn.
1. Seconds per model for N models of one architecture (2-128-128-1 with dropout, 200 examples,
   1,500 full-batch Adam steps): a new compiled model traced for each (naive) against
   `fit_full_batch`, which reuses the traced training function of the first model of an architecture.
2. Milliseconds per step of `fit_full_batch` against the numpy twin (`scratch.train`) on the
   course's [2, 20, 3, 1] net with 211 examples: no regularization, L2, dropout.
Both run once per installed Keras backend, each in its own process (`KERAS_BACKEND`).
3. Wall time of `make report PROFILE=quick` and `make -j2 report PROFILE=quick`, each in a fresh
   temporary copy of the project (the real `reports/` is left alone).
4. Outside the steps, per backend: a Monte Carlo pass eager against `training.predict`, and on
   TensorFlow a variable created under a new name against one name (also with `--quick`).

`--models N` sets N; `--skip-report` leaves out 3; `--backends jax,torch` picks the backends;
`--quick` measures 0 with fewer steps in one round and leaves out 1 to 3.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("tensorflow", "jax", "torch")
SWEEP_STEPS, SWEEP_RECORD_EVERY = 1500, 150
COURSE_DIMS, COURSE_M, COURSE_STEPS, COURSE_RECORD_EVERY = [2, 20, 3, 1], 211, 3000, 1000
SPEED_STEPS, SPEED_QUICK_STEPS, SPEED_RECORD_EVERY = 600, 200, 100
SPEED_GROUPS = (1, 8, 16, 32)
SPEED_ROUNDS = 3  # measurement 0 keeps the best of this many interleaved rounds
SPEED_DROPOUTS = ("none", "keras", "fast", "bits")
# keras.layers.Dropout with masks="fast" should train at least this share of BitsDropout's speed.
FAST_TARGET = 0.9
COURSE_VARIANTS = {
    "no regularization": {},
    "L2 (lambd 0.7)": {"lambd": 0.7},
    "dropout (keep_prob 0.86)": {"keep_prob": 0.86},
}


def speed_model(seed: int, dropout: str):
    """The 2-128-128-1 MLP of measurement 0, compiled with Adam."""
    from nnreg_keras.models import BitsDropout
    from nnreg_keras.training import keras, set_seed

    set_seed(seed)
    layers = [keras.Input((2,))]
    for _ in range(2):
        layers.append(keras.layers.Dense(128, activation="relu"))
        if dropout != "none":  # "fast": keras.layers.Dropout, trained with masks="fast"
            layers.append(BitsDropout(0.5) if dropout == "bits" else keras.layers.Dropout(0.5))
    model = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def measure_speed(steps: int, rounds: int = SPEED_ROUNDS) -> dict:
    """Model-steps per second of each way to train on this backend (measurement 0), the best of
    `rounds` rounds; each round times every way once, in turn, so that a slow minute of the
    machine falls on all of them alike. Each way traces in a warm-up call that is not timed."""
    from nnreg_keras.data import make_goalkeeper
    from nnreg_keras.models import use_fast_masks
    from nnreg_keras.training import fit_full_batch, fit_many

    data = make_goalkeeper(n_train=200, n_test=10, seed=0)
    x, y = data.x_train, data.y_train
    every = min(SPEED_RECORD_EVERY, steps)

    def timed(train: Callable[[], int]) -> float:
        start = time.perf_counter()
        model_steps = train()
        return model_steps / (time.perf_counter() - start)

    def naive(dropout: str) -> Callable[[], float]:
        model = speed_model(0, dropout)
        if dropout == "fast":
            use_fast_masks(model)
        model.fit(x, y, batch_size=len(x), epochs=2, verbose=0)

        def train() -> int:
            model.fit(x, y, batch_size=len(x), epochs=steps // 4, verbose=0)
            return steps // 4

        return lambda: timed(train)

    def masks(dropout: str) -> str:
        return "fast" if dropout == "fast" else "keras"

    def one_at_a_time(dropout: str) -> Callable[[], float]:
        fit_full_batch(speed_model(0, dropout), x, y, every, every, masks=masks(dropout))

        def run() -> float:
            models = [speed_model(seed, dropout) for seed in range(4)]

            def train() -> int:
                for model in models:
                    fit_full_batch(model, x, y, steps, every, masks=masks(dropout))
                return len(models) * steps

            return timed(train)

        return run

    def grouped(dropout: str, size: int) -> Callable[[], float]:
        models = [speed_model(s, dropout) for s in range(size)]
        fit_many(models, x, y, every, every, group_size=size, masks=masks(dropout))

        def run() -> float:
            models = [speed_model(100 + s, dropout) for s in range(size)]

            def train() -> int:
                fit_many(models, x, y, steps, every, group_size=size, masks=masks(dropout))
                return size * steps

            return timed(train)

        return run

    ways: dict[tuple[str, str], Callable[[], float]] = {}
    for dropout in SPEED_DROPOUTS:
        ways[dropout, "model.fit"] = naive(dropout)
        ways[dropout, "fit_full_batch"] = one_at_a_time(dropout)
        for size in SPEED_GROUPS:
            ways[dropout, f"fit_many, {size} per group"] = grouped(dropout, size)
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for key, way in ways.items():
            best[key] = max(best.get(key, 0.0), way())
    result: dict[str, dict[str, float]] = {dropout: {} for dropout in SPEED_DROPOUTS}
    for (dropout, row), rate in best.items():
        result[dropout][row] = rate
    return result


def measure_floor(steps: int) -> dict[str, float]:
    """Steps per second of the 2-128-128-1 MLP's Adam step in hand-written `jax.numpy` under
    `jax.jit` (a `fori_loop` of steps), without and with dropout 0.5 (uniform floats, as Keras);
    the best of SPEED_ROUNDS runs."""
    import jax
    import jax.numpy as jnp

    from nnreg_keras.data import make_goalkeeper

    data = make_goalkeeper(n_train=200, n_test=10, seed=0)
    x = jnp.asarray(data.x_train, "float32")
    y = jnp.asarray(data.y_train, "float32").reshape(-1, 1)
    rng = np.random.default_rng(0)
    sizes = [(2, 128), (128, 128), (128, 1)]
    params = [
        (jnp.asarray(rng.normal(size=s) * np.sqrt(2 / s[0]), "float32"), jnp.zeros(s[1]))
        for s in sizes
    ]

    def loss(params, key, rate):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
                if rate:
                    key, sub = jax.random.split(key)
                    keep = jax.random.uniform(sub, h.shape) >= rate
                    h = jnp.where(keep, h / (1 - rate), 0)
        p = jnp.clip(jax.nn.sigmoid(h), 1e-7, 1 - 1e-7)
        return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))

    def run(rate):
        @jax.jit
        def train(params, n):
            def step(t, carry):
                params, m, v, key = carry
                key, sub = jax.random.split(key)
                grads = jax.grad(loss)(params, sub, rate)
                m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
                v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
                t = t + 1.0
                scale = 0.01 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                params = jax.tree.map(
                    lambda p, m, v: p - scale * m / (jnp.sqrt(v) + 1e-7), params, m, v
                )
                return params, m, v, key

            zeros = jax.tree.map(jnp.zeros_like, params)
            return jax.lax.fori_loop(0, n, step, (params, zeros, zeros, jax.random.key(0)))

        jax.block_until_ready(train(params, 10))
        best = 0.0
        for _ in range(SPEED_ROUNDS):
            start = time.perf_counter()
            jax.block_until_ready(train(params, steps))
            best = max(best, steps / (time.perf_counter() - start))
        return best

    return {"none": run(0.0), "dropout": run(0.5)}


def measure_overheads(rounds: int = SPEED_ROUNDS) -> dict[str, float]:
    """Measurement 4, what lies outside the training steps: milliseconds per Monte Carlo pass of a
    2-128-128-1 dropout network on 1,000 examples, eager against `training.predict` (compiled once
    per architecture); milliseconds per model built with and without a seed set before it; on
    TensorFlow, microseconds per variable created under a new name against a name seen before (the
    library leaves out the handle's debug name, see `training`)."""
    from nnreg_keras.training import BACKEND, keras, predict, set_seed

    set_seed(0)
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.5)]
        + [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(1)]
    )
    x = np.random.default_rng(0).standard_normal((1000, 2)).astype("float32")
    calls = {
        "eager": lambda: keras.ops.convert_to_numpy(model(x, training=True)),
        "predict": lambda: predict(model, x, training=True),
    }
    found = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()  # traces
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(50):
                call()
            found[name] = min(found[name], 1000 * (time.perf_counter() - start) / 50)
    found.update(_build_milliseconds(rounds))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        value = np.zeros((16, 16), "float32")
        for name, naming in (("new names", "m{}/dense/kernel"), ("one name", "kernel")):
            start = time.perf_counter()
            for i in range(1000):
                tf.Variable(value, name=naming.format(i))
            found[f"variable, {name}"] = 1e6 * (time.perf_counter() - start) / 1000
    return found


def _build_milliseconds(rounds: int, models: int = 50) -> dict[str, float]:
    """Milliseconds to build and compile one 2-64-64-1 dropout model as the lessons do, with and
    without `keras.utils.set_random_seed` before it. On TensorFlow the seed's `tf.random.set_seed`
    clears TensorFlow's cache of eager kernels, so the build after it makes its kernels anew."""
    from nnreg_keras.training import keras

    def build() -> None:
        layers = [keras.Input((2,))]
        for _ in range(2):
            layers += [keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.3)]
        model = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")

    found = {"build, seeded": float("inf"), "build, not seeded": float("inf")}
    build()
    for _ in range(rounds):
        for name, seed in (
            ("build, seeded", keras.utils.set_random_seed),
            ("build, not seeded", None),
        ):
            spent = 0.0
            for i in range(models):
                if seed:
                    seed(i)
                start = time.perf_counter()
                build()
                spent += time.perf_counter() - start
            found[name] = min(found[name], 1000 * spent / models)
    return found


def measure_backend(n_models: int, quick: bool) -> dict:
    """The training measurements on the backend this process runs; plain numbers for the parent."""
    from nnreg_keras import scratch, twin
    from nnreg_keras.data import make_goalkeeper
    from nnreg_keras.training import BACKEND, fit_full_batch, keras, set_seed

    speed_steps = SPEED_QUICK_STEPS if quick else SPEED_STEPS
    measured = {
        "backend": BACKEND,
        "speed": measure_speed(speed_steps, 1 if quick else SPEED_ROUNDS),
    }
    if BACKEND == "jax":
        measured["floor"] = measure_floor(5 * speed_steps)
    measured["overheads"] = measure_overheads(1 if quick else SPEED_ROUNDS)
    if quick:
        return measured

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
        **measured,
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


def run_backend(backend: str, n_models: int, quick: bool) -> dict | str:
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
        [sys.executable, __file__, "--worker", "--models", str(n_models)]
        + (["--quick"] if quick else []),
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


def print_speed(results: dict[str, dict | str], quick: bool) -> None:
    """Measurement 0: model-steps per second, and each row's ratio to the jax.numpy floor."""
    floor = next(
        (r["floor"] for r in results.values() if isinstance(r, dict) and "floor" in r), None
    )
    steps = SPEED_QUICK_STEPS if quick else SPEED_STEPS
    print(
        f"\nModel-steps per second: 2-128-128-1 MLP, 200 examples, full-batch Adam, {steps} steps "
        f"per model (records every {SPEED_RECORD_EVERY}); / floor: the row over hand-written "
        "jax.numpy under jax.jit"
    )
    names = {
        "none": "no dropout",
        "keras": "keras Dropout(0.5)",
        "fast": "Dropout, fast masks",
        "bits": "BitsDropout(0.5)",
    }
    print(
        f"  {'backend':<11} {'dropout':<19} {'training':<25} {'model-steps/s':>13} {'/ floor':>8}"
    )
    for dropout, name in names.items():
        for backend, r in results.items():
            if isinstance(r, str):
                continue
            rows = r["speed"][dropout]
            for row, rate in rows.items():
                ratio = (
                    f"{rate / floor['none' if dropout == 'none' else 'dropout']:7.2f}x"
                    if floor
                    else ""
                )
                print(f"  {backend:<11} {name:<19} {row:<25} {rate:>13,.0f} {ratio:>8}")
        if floor:
            key = "none" if dropout == "none" else "dropout"
            floor_name = "floor: jax.numpy" + (", float masks" if key == "dropout" else "")
            print(f"  {'jax':<11} {name:<19} {floor_name:<25} {floor[key]:>13,.0f} {1:7.2f}x")
    for backend, r in results.items():
        if isinstance(r, str):
            print(f"  {backend:<11} skipped: {r}")
            continue
        speed = r["speed"]
        base = speed["keras"]["fit_full_batch"]
        best = max(v for k, v in speed["bits"].items() if k.startswith("fit_many"))
        print(
            f"  {backend}: best fit_many with BitsDropout / fit_full_batch with Keras Dropout: "
            f"{best / base:.2f}x"
        )
        row = "fit_many, 16 per group"
        if row in speed["fast"]:
            fast, bits, keras_masks = (speed[d][row] for d in ("fast", "bits", "keras"))
            verdict = "meets" if fast >= FAST_TARGET * bits else "misses"
            print(
                f'  {backend}: {row}: keras Dropout with masks="fast" {fast:,.0f}, BitsDropout '
                f"{bits:,.0f}, Keras's masks {keras_masks:,.0f} model-steps/s: fast / BitsDropout "
                f"{fast / bits:.2f}x ({verdict} the {FAST_TARGET}x target), fast / Keras's masks "
                f"{fast / keras_masks:.2f}x"
            )


def print_overheads(results: dict[str, dict | str]) -> None:
    """Measurement 4: a Monte Carlo pass eager and through `training.predict`; variable creation."""
    print(
        "\nOutside the steps: one training-mode pass of a 2-128-128-1 dropout net on 1,000 examples"
    )
    for backend, r in results.items():
        if isinstance(r, str) or "overheads" not in r:
            continue
        o = r["overheads"]
        print(
            f"  {backend:<11} eager {o['eager']:6.2f} ms   training.predict {o['predict']:6.2f} ms"
            f"   eager / predict {o['eager'] / o['predict']:5.1f}x"
        )
        seeded, plain = o["build, seeded"], o["build, not seeded"]
        print(
            f"  {backend:<11} a model built after keras.utils.set_random_seed {seeded:5.1f} ms, "
            f"without {plain:5.1f} ms: {seeded / plain:4.1f}x"
        )
        if "variable, new names" in o:
            new, one = o["variable, new names"], o["variable, one name"]
            print(
                f"  {backend:<11} a variable: {new:5.0f} us under a new name, {one:5.0f} us under "
                f"one name: {new / one:4.1f}x (7x with the handle's debug name, measured)"
            )


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
    parser.add_argument(
        "--quick", action="store_true", help="fewer steps; only the model-steps table"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure_backend(args.models, args.quick)))
        return
    results = {}
    for backend in args.backends.split(","):
        print(f"measuring {backend} ...", flush=True)
        results[backend] = run_backend(backend, args.models, args.quick)
    print_speed(results, args.quick)
    print_overheads(results)
    if args.quick:
        return
    report = None if args.skip_report else {jobs: make_report_seconds(jobs) for jobs in (1, 2)}
    print_table(results, args.models, report)


if __name__ == "__main__":
    main()
