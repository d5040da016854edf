"""Dropout's thinned sub-networks against one smaller network (tutorial 01): the widths to train,
many models trained at once with their parameter counts, a setting chosen on validation seed by
seed, the share of silent ReLU outputs, the step of the lowest validation loss and the k shown for
Monte Carlo averaging."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from nnreg_keras import metrics
from nnreg_keras.data import Split, goalkeeper_boundary
from nnreg_keras.exceptions import ParameterError
from nnreg_keras.formatting import dropout_label, l2_label
from nnreg_keras.training import fit_many, keras


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


def fit_and_count(
    models: list[keras.Model], data: list[dict[str, Split]], steps: int, record_every: int
) -> list[dict[str, Any]]:
    """Train every model full-batch on its own data['train'] in one `fit_many` call, evaluating
    every split; count each model's parameters before and after training, and how many of them
    training changed."""
    before = [metrics.weights_snapshot(model) for model in models]
    records = fit_many(
        models,
        [split["train"][0] for split in data],
        [split["train"][1] for split in data],
        steps,
        record_every,
        data,
    )
    return [
        {
            "records": run,
            "final": run[-1],
            "params_before": sum(w.size for w in start),
            "params_after": model.count_params(),
            "changed": metrics.changed_parameters(start, metrics.weights_snapshot(model)),
        }
        for model, run, start in zip(models, records, before, strict=True)
    ]


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
        return f"{units} units"
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
