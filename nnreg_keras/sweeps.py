"""Sweeps of a regularizer's strength over seeds, the validated choice, and which choice wins where.

Every function takes and returns plain values. A sweep is a list of tidy records, one per trained
model: `{"strength": 0.001, "seed": 0, "validation_accuracy": 0.85, "test_accuracy": 0.84, ...}` plus any
fields that name the setting (`regularizer`, `width`, `n_train`, ...). Per-seed scores of one setting
are `{seed: score}`, so two settings are compared seed by seed on the same data draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Record = dict[str, Any]
TIE = 1e-12  # mean scores closer than this count as equal


def sweep(
    values: Sequence[Any],
    seeds: Sequence[int],
    train: Callable[[Any, int], dict[str, float]],
    knob: str = "strength",
    **fields: Any,
) -> list[Record]:
    """Call `train(value, seed)` for every value of the knob (outer loop) and seed (inner loop); one
    record per call: `fields`, the knob's value, the seed and the scores `train` returns. Values outer,
    because models that differ only in their seed share an architecture and so one traced training step."""
    return [
        {**fields, knob: v, "seed": int(seed), **train(v, seed)} for v in values for seed in seeds
    ]


def select(records: list[Record], **fields: Any) -> list[Record]:
    """The records whose fields equal all the given values."""
    return [r for r in records if all(r.get(k) == v for k, v in fields.items())]


def scores(records: list[Record], key: str = "test_accuracy") -> dict[int, float]:
    """{seed: score} of the records of one setting; a seed seen twice is an error."""
    seeds = [r["seed"] for r in records]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"records of one setting repeat a seed: {sorted(seeds)}")
    return {int(r["seed"]): float(r[key]) for r in records}


def curves(records: list[Record], key: str, knob: str = "strength") -> tuple[list[Any], np.ndarray]:
    """The knob's values in a sweep, increasing, and `key` as an array (seeds, values)."""
    values = sorted({r[knob] for r in records})
    by_value = [scores(select(records, **{knob: v}), key) for v in values]
    seeds = sorted(by_value[0])
    if any(sorted(s) != seeds for s in by_value):
        raise ValueError(f"every {knob} of a sweep needs the same seeds")
    return values, np.array([[s[seed] for s in by_value] for seed in seeds])


@dataclass(frozen=True)
class Choice:
    """The strength (or width, ...) with the best mean validation score, and the test score there."""

    strength: float
    validation_mean: float
    test_mean: float
    test_sd: float
    test_scores: dict[int, float]


def choose_strength(
    records: list[Record],
    score: str = "validation_accuracy",
    report: str = "test_accuracy",
    higher_is_better: bool = True,
    knob: str = "strength",
) -> Choice:
    """Choose the strength (or another knob's value) on the validation `score` (mean over seeds), never
    on the test set; report the `report` score there. Equal means go to the smaller value."""
    strengths, val = curves(records, score, knob)
    means = val.mean(axis=0) * (1 if higher_is_better else -1)
    best = strengths[int(np.flatnonzero(means >= means.max() - TIE)[0])]
    test = scores(select(records, **{knob: best}), report)
    values = np.array(list(test.values()))
    return Choice(
        best,
        float(val.mean(axis=0)[strengths.index(best)]),
        float(values.mean()),
        float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        test,
    )


@dataclass(frozen=True)
class Gain:
    """Per-seed differences of a setting's scores over a baseline's: their mean and sd, and on how
    many of the seeds the setting scored strictly higher."""

    mean: float
    sd: float
    seeds_won: int
    seeds: int


def gain(setting: dict[int, float], baseline: dict[int, float]) -> Gain:
    """Gain of `setting` over `baseline` ({seed: score} each, with the same seeds), seed by seed."""
    if sorted(setting) != sorted(baseline):
        raise ValueError(
            f"gain needs the same seeds on both sides, got {sorted(setting)} and {sorted(baseline)}"
        )
    diff = np.round(
        [setting[s] - baseline[s] for s in sorted(setting)], 12
    )  # equal gains, sd exactly 0
    return Gain(
        float(diff.mean()),
        float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
        int(np.sum(diff > 0)),
        len(diff),
    )


def when_to_use_which(situations: dict[str, dict[str, dict[int, float]]]) -> list[Record]:
    """For each situation, {choice: {seed: score}} in, the choice with the best mean score out, with its
    margin over the runner-up and the seeds on which it beat the runner-up. Equal means go to the
    choice named first (list "none" first, so a tie never credits a regularizer)."""
    rows = []
    for situation, choices in situations.items():
        if len(choices) < 2:
            raise ValueError(
                f"situation {situation!r} needs at least two choices, got {list(choices)}"
            )
        means = {name: float(np.mean(list(s.values()))) for name, s in choices.items()}
        order = sorted(
            means, key=lambda name: -round(means[name] / TIE)
        )  # stable: ties keep their order
        winner, runner_up = order[:2]
        g = gain(choices[winner], choices[runner_up])
        rows.append(
            {
                "situation": situation,
                "winner": winner,
                "runner_up": runner_up,
                "margin": g.mean,
                "margin_sd": g.sd,
                "seeds_won": g.seeds_won,
                "seeds": g.seeds,
                "score": means[winner],
            }
        )
    return rows
