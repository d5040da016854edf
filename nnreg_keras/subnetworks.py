"""Dropout's thinned sub-networks against one smaller network (tutorials 01 and 06): the widths to
train, each model read at its best validation step (early stopping from its records), a setting
chosen on validation seed by seed and where that choice fell in its grid, an equivalence finding in
words, the share of silent ReLU outputs and the k shown for Monte Carlo averaging."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from nnreg_keras.data import goalkeeper_boundary
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.formatting import dropout_label, l2_label, mean_sd_text
from nnreg_keras.stats import HELD, NOT_HELD, Comparison
from nnreg_keras.training import keras


def sweep_widths(widths: list[int], width: int, rate: float) -> tuple[list[int], int]:
    """The widths of unregularized networks to train: the sweep plus the wide network and the
    (1 − rate) × width network, sorted; and that (1 − rate) × width."""
    if not (
        isinstance(widths, list)
        and widths
        and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    ):
        raise ParameterError(
            f"parameter 'widths' = {widths!r}: accepted a non-empty list of positive integers"
        )
    kept = max(1, round((1 - rate) * width))
    if not any(w < width for w in {*widths, kept}):
        raise ParameterError(
            f"parameter 'widths': no width below the wide network's {width} units to choose from"
        )
    return sorted({*widths, width, kept}), kept


def at_best(records: list[dict[str, float]], key: str = "validation_loss") -> dict[str, float]:
    """The record of the lowest `key` (the first on a tie): the model as early stopping keeps it,
    its other sets scored at that step."""
    if not records:
        raise ValueError("no records: train with record_every <= steps")
    return records[int(np.argmin([r[key] for r in records]))]


def tune(
    records: dict[Hashable, list[list[dict[str, float]]]], key: str = "validation_loss"
) -> dict[str, Any]:
    """Seed by seed, the setting whose best record has the lowest `key`, read at that record.

    `records` maps each candidate setting to one list of records per seed (as `fit_many` returns
    them). Returns "chosen" (one setting per seed), "step" and every measure of the chosen best
    record ("test_accuracy", "test_loss"...), one value per seed."""
    best = {c: [at_best(run, key) for run in runs] for c, runs in records.items()}
    chosen = choose({c: [r[key] for r in rows] for c, rows in best.items()})
    picked = [best[c][seed] for seed, c in enumerate(chosen)]
    recorded = [r["step"] for r in next(iter(records.values()))[0]]
    return {"chosen": chosen, "recorded_steps": recorded} | {
        m: np.array([r[m] for r in picked]) for m in picked[0]
    }


TUNED_COLUMNS = [
    "model",
    "chosen on validation",
    "on the edge of its grid",
    "best step",
    "test accuracy",
    "test log-loss",
]


def tuned_row(name: str, tuned: dict[str, Any], grid: Sequence[float], n_train: int) -> list[str]:
    """A row of TUNED_COLUMNS for a `tune`d setting of (units, kind, strength) models: what was
    chosen, where the choices fell in their `grid` (widths for plain networks, else strengths) and
    in the recorded steps, the best step and the test scores, mean ± sd over seeds."""
    values = [c[0] if c[1] == "plain" else c[2] for c in tuned["chosen"]]
    step = grid_edges(tuned["step"], tuned["recorded_steps"])
    edges = [grid_edges(values, grid) if grid else "", step and f"step: {step}"]
    return [
        name,
        chosen_text(tuned["chosen"], n_train),
        "; ".join(e for e in edges if e) or "never",
        mean_sd_text(tuned["step"], 0),
        mean_sd_text(tuned["test_accuracy"]),
        mean_sd_text(tuned["test_loss"]),
    ]


def grid_edges(chosen: Sequence[float], grid: Sequence[float]) -> str:
    """Where the choices fell in their grid, for a finding's limits: "" when never on an edge,
    else e.g. "the largest offered (0.75) on 3 of 5 seeds"."""
    low, high = min(grid), max(grid)
    parts = []
    for edge, word in ((high, "largest"), (low, "smallest")):
        count = sum(float(c) == float(edge) for c in chosen)
        if count and len(grid) > 1:
            parts.append(f"the {word} offered ({edge:g}) on {count} of {len(chosen)} seeds")
    return " and ".join(parts)


def likeness(comparison: Comparison, other: str, margin: str = "one point") -> str:
    """An equivalence finding in words a learner can trust: "as accurate as `other`, within
    `margin`" only when its interval lies inside the margin, naming the direction when the interval
    excludes zero; otherwise what the interval does show."""
    way = {"lower": "less", "higher": "more"}.get(comparison.direction or "")
    if comparison.status == HELD:
        return f"as accurate as {other}, within {margin}" + (f", slightly {way}" if way else "")
    if comparison.status == NOT_HELD:
        return f"{way} accurate than {other}, by more than {margin}"
    if way:
        return (
            f"{way} accurate than {other}, by an amount these seeds cannot place within or "
            f"beyond {margin}"
        )
    return f"not shown to be within {margin} of {other}"


def choose(validation: dict[Hashable, Sequence[float]]) -> list[Hashable]:
    """Seed by seed, the candidate with the lowest validation value (the first listed on a tie).

    `validation` maps each candidate setting to one value per seed, e.g. validation log-loss."""
    if not validation:
        raise ParameterError("no candidate setting to choose from")
    candidates = list(validation)
    table = np.array([np.asarray(validation[c], dtype="float64") for c in candidates])
    return [candidates[i] for i in np.argmin(table, axis=0)]


def chosen_values(values: dict[Hashable, Sequence[float]], chosen: list[Hashable]) -> np.ndarray:
    """Seed by seed, the value of the setting chosen for that seed (`choose`)."""
    return np.array([float(values[c][seed]) for seed, c in enumerate(chosen)])


def setting_label(config: tuple, n_train: int, short: bool = False) -> str:
    """The name of a model (units, kind, strength): "128 units + dropout rate 0.5 (keep_prob 0.5)",
    with L2 also in the course's λ for `n_train` examples; `short` names the regularizer alone."""
    units, kind, strength = config
    regularizer = {
        "dropout": dropout_label(strength),
        "L2": l2_label(strength, n_train),
        "fixed mask": f"one fixed mask at {dropout_label(strength)}",
    }.get(kind)
    if regularizer is None:
        return f"{units} unit{'s' if units != 1 else ''}"
    return regularizer if short else f"{units} units + {regularizer}"


def chosen_text(chosen: list[tuple], n_train: int) -> str:
    """How often each setting was chosen, most often first: "4 units ×9, 8 units ×6"."""
    counts = Counter(chosen).most_common()
    return ", ".join(f"{setting_label(c, n_train, short=True)} ×{n}" for c, n in counts)


def zero_share(model: keras.Model, x: np.ndarray) -> float:
    """Share of the hidden ReLU outputs that are exactly zero on inputs `x`, at inference."""
    zeros, total, h = 0, 0, keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    for layer in model.layers:
        h = layer(h, training=False)
        if isinstance(layer, keras.layers.Dense) and layer.activation is keras.activations.relu:
            values = keras.ops.convert_to_numpy(h)
            zeros, total = zeros + int(np.count_nonzero(values == 0)), total + values.size
    if not total:
        raise ValueError(f"model {model.name!r} has no hidden ReLU layer")
    return zeros / total


def best_step(records: list[dict[str, float]], key: str = "validation_loss") -> int:
    """The recorded step at which `key` was lowest (the first such step on a tie)."""
    return int(records[int(np.argmin([r[key] for r in records]))]["step"])


def mc_grid(k_max: int) -> list[int]:
    """The k shown for Monte Carlo averaging: 1, 2, 5, 10, 20, 50, ... up to k_max, with k_max // 2
    and k_max."""
    steps = [m * 10**e for e in range(7) for m in (1, 2, 5)]
    return sorted({k for k in steps if k <= k_max} | {max(1, k_max // 2), k_max})


def boundary_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the goalkeeper field's true boundary on (x, y): on noisy labels, 1 − the share
    flipped. A network scoring above it on training data has learned flipped labels."""
    truth = x[:, 1] > goalkeeper_boundary(x[:, 0])
    return float(np.mean(truth == (np.asarray(y).ravel() > 0.5)))
