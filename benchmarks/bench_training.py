"""Time per full-batch gradient step, side by side in one run: `make bench`.

Compares Keras `fit` with one full-batch step per epoch (the obvious way), the library's
`fit_full_batch` (many steps per epoch with `steps_per_execution`), and the numpy twin's loop.
Prints milliseconds per step and the ratio to `fit_full_batch`.
"""
from __future__ import annotations

import time

import numpy as np

from nnreg_keras import scratch
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.training import fit_full_batch, keras, set_seed

STEPS = 400
WIDTH = 64
DATA = make_goalkeeper(n_train=200, n_test=10)


def model() -> keras.Model:
    set_seed(0)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(WIDTH, activation="relu"),
                          keras.layers.Dropout(0.5), keras.layers.Dense(WIDTH, activation="relu"),
                          keras.layers.Dropout(0.5), keras.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return m


def per_step(train, steps: int = STEPS) -> float:
    """Milliseconds per step, after one warm-up call that pays for tracing."""
    train(steps // 10)
    start = time.perf_counter()
    train(steps)
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    x, y = DATA.x_train, DATA.y_train
    X, Y, _, _ = scratch.from_dataset(DATA)
    per_epoch = model()
    fast = model()
    timings = {
        "Keras fit, one full-batch step per epoch": per_step(
            lambda n: per_epoch.fit(x, y, batch_size=len(x), epochs=n, verbose=0, shuffle=False)),
        "fit_full_batch, record every 100 steps": per_step(
            lambda n: fit_full_batch(fast, x, y, steps=n, record_every=min(n, 100))),
        "numpy twin (scratch.model), same network": per_step(
            lambda n: scratch.model(X, Y, 0.1, n, keep_prob=0.5, layer_dims=[2, WIDTH, WIDTH, 1])),
    }
    best = timings["fit_full_batch, record every 100 steps"]
    print(f"{STEPS} full-batch steps, 2-{WIDTH}-{WIDTH}-1 network with dropout, {len(x)} examples")
    for name, ms in timings.items():
        print(f"  {name:<44} {ms:8.3f} ms/step   {ms / best:6.1f}x")


if __name__ == "__main__":
    main()
