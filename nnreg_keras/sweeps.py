"""Strength sweeps over seeds: tidy records, per-seed scores, and which choice wins where.

A sweep is a list of tidy records, one per trained model: `{"regularizer": "L2", "lambd": 1.0,
"rate": 0.0, "seed": 0, "validation_accuracy": 0.85, "test_accuracy": 0.84, ...}` (`lambd` is the
course's λ, `rate` the dropout rate), each read at the model's best validation step (`at_best`), so
that every setting is scored at its best and none pays for being trained past it.
Per-seed scores of one setting are `{seed: score}`, so two settings are compared seed by seed on the
same data draws and initial weights (`stats.paired`). Every function takes and returns plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnreg_keras import stats
from nnreg_keras.formatting import dropout_label, l2_label

Record = dict[str, Any]


def at_best(history: list[Record], key: str = "validation_loss") -> Record:
    """One model's training records read at its best validation step: early stopping after the fact.
    The record with the lowest `key` (the earliest of equal ones), with `best_step` (its step) and
    `last_step` (the last recorded step) added: a best step at the last record is a model that was
    still improving when training stopped."""
    if not history:
        raise ValueError("a model without records has no best step")
    best = min(range(len(history)), key=lambda i: history[i][key])
    return {**history[best], "best_step": history[best]["step"], "last_step": history[-1]["step"]}


def still_improving(records: list[Record]) -> float:
    """The share of models (records from `at_best`) whose best step was their last record: those
    that had not yet stopped improving, for which more steps might score higher."""
    return float(np.mean([r["best_step"] == r["last_step"] for r in records]))


def grid_place(grid: Sequence[float], chosen: float) -> str:
    """Where a validated choice fell in the grid it was chosen from: 'inside', or on an edge,
    'smallest' or 'largest' (the best may then lie beyond the values tried)."""
    values = sorted({float(v) for v in grid})
    if len(values) < 2 or values[0] < chosen < values[-1]:
        return "inside"
    return "smallest" if chosen == values[0] else "largest"


def select(records: list[Record], **fields: Any) -> list[Record]:
    """The records whose fields equal all the given values."""
    return [r for r in records if all(r.get(k) == v for k, v in fields.items())]


def scores(records: list[Record], key: str = "test_accuracy") -> dict[int, float]:
    """{seed: score} of the records of one setting, in increasing seed order; a seed seen twice is
    an error (the records mix two settings)."""
    seeds = [r["seed"] for r in records]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"records of one setting repeat a seed: {sorted(seeds)}")
    return {int(r["seed"]): float(r[key]) for r in sorted(records, key=lambda r: r["seed"])}


def per_seed(records: list[Record], key: str = "test_accuracy") -> list[float]:
    """The scores of one setting as a list in increasing seed order, ready for `stats.paired`."""
    return list(scores(records, key).values())


def curves(records: list[Record], key: str, knob: str = "lambd") -> tuple[list[Any], np.ndarray]:
    """The knob's values in a sweep, increasing, and `key` as an array (seeds, values)."""
    values = sorted({r[knob] for r in records})
    by_value = [scores(select(records, **{knob: v}), key) for v in values]
    seeds = list(by_value[0])
    if any(list(s) != seeds for s in by_value):
        raise ValueError(f"every {knob} of a sweep needs the same seeds")
    return values, np.array([[s[seed] for s in by_value] for seed in seeds])


@dataclass(frozen=True)
class Tuned:
    """One situation with each regularizer at the strength chosen on its validation split."""

    strengths: dict[str, float]  # {"L2": course λ, "dropout": rate} as validation chose them
    records: dict[str, list[Record]]  # the records of "none" and of each regularizer at its choice
    grids: dict[str, list[float]]  # {"L2": the λ tried, "dropout": the rates tried}

    def scores(self, key: str = "test_accuracy") -> dict[str, list[float]]:
        """{"none" / regularizer: per-seed `key`}, seeds in increasing order."""
        return {name: per_seed(records, key) for name, records in self.records.items()}

    @property
    def best(self) -> str:
        """The regularizer whose choice scores the higher mean validation accuracy."""
        validation = self.scores("validation_accuracy")
        return max(self.strengths, key=lambda name: float(np.mean(validation[name])))

    def places(self) -> dict[str, str]:
        """{regularizer: where its choice fell in its grid}: 'inside', 'smallest' or 'largest'."""
        return {name: grid_place(self.grids[name], v) for name, v in self.strengths.items()}

    def chosen(self, m: int, *names: str) -> str:
        """The strengths validation chose (of `names`, or all), as text for m training examples,
        each choice on an edge of its grid marked ("dropout rate 0.1 (keep_prob 0.9), smallest
        tried")."""
        places = self.places()
        return "; ".join(
            strength_text(name, value, m)
            + ("" if places[name] == "inside" else f", {places[name]} tried")
            for name, value in self.strengths.items()
            if not names or name in names
        )


KNOBS = {"L2": "lambd", "dropout": "rate"}  # the field of a record that holds each one's strength


def strength_text(name: str, value: float, m: int) -> str:
    """A strength as text: L2's course λ as the Keras factor λ/(2m) and λ itself, for m training
    examples ("L2 0.0025 (course λ 1)"); dropout's rate with its keep_prob."""
    return l2_label(value / (2 * m), m) if name == "L2" else dropout_label(value)


def tune(records: list[Record], choose: Callable[[list[Record], str], float]) -> Tuned:
    """Each regularizer of the records ("L2", "dropout": whichever are there) at the strength that
    `choose(its records, knob)` picks on validation, beside "none"."""
    strengths, chosen, grids = {}, {"none": select(records, regularizer="none")}, {}
    for name, knob in KNOBS.items():
        sweep = select(records, regularizer=name)
        if sweep:
            strengths[name] = choose(sweep, knob)
            chosen[name] = select(sweep, **{knob: strengths[name]})
            grids[name] = sorted({r[knob] for r in sweep})
    return Tuned(strengths, chosen, grids)


def one_step_weaker(grid: Sequence[float], chosen: float) -> list[float]:
    """The chosen strength and the next weaker non-zero one of the grid (zero is left out: combined,
    both regularizers are on). Two regularizers together add up, so each may need less."""
    nonzero = sorted({float(v) for v in grid if v > 0})
    if chosen <= 0:
        return nonzero[:1]
    at = nonzero.index(float(chosen))
    return nonzero[max(at - 1, 0) : at + 1]


def winner(comparisons: dict[tuple[str, str], stats.Comparison]) -> str:
    """The choice that beats every other one (each paired interval excludes zero in its favour), or
    'tie' with the choices no other choice beats: 'tie (L2, dropout)'; 'tie' when none is beaten."""
    names = list(dict.fromkeys(name for pair in comparisons for name in pair))
    beaten = {
        loser
        for (a, b), comparison in comparisons.items()
        if (won := comparison.winner(a, b)) != "tie"
        for loser in ({a, b} - {won})
    }
    unbeaten = [name for name in names if name not in beaten]
    if len(unbeaten) == 1:
        return unbeaten[0]
    return "tie" if len(unbeaten) == len(names) else f"tie ({', '.join(unbeaten)})"


def when_to_use_which(
    situations: dict[str, dict[str, Sequence[float]]],
    pairs: Sequence[tuple[str, str]] = (("L2", "none"), ("dropout", "none"), ("L2", "dropout")),
    scale: float = 100.0,
) -> list[Record]:
    """For each situation, {choice: per-seed scores} in, the paired comparison of each pair `a − b`
    (difference and 95% interval, in `scale`·score units) and the winner (see `winner`) out."""
    rows = []
    for situation, choices in situations.items():
        missing = {name for pair in pairs for name in pair} - set(choices)
        if missing:
            raise ValueError(f"situation {situation!r} lacks the choices {sorted(missing)}")
        comparisons = {
            (a, b): stats.paired(choices[a], choices[b], scale=scale, unit="points")
            for a, b in pairs
        }
        rows.append(
            {"situation": situation, "comparisons": comparisons, "winner": winner(comparisons)}
        )
    return rows


def likeness(comparison: stats.Comparison, within: str = "within a point") -> str:
    """How `a` relates to `b` in an 'equal' claim, in plain words for a short answer ("a was ... b"):
    "as good as" only when the interval lies inside the margin, saying which way when it also
    excludes zero ("within a point of, and slightly below,"); "below" or "above" when it lies
    outside the margin; otherwise "not shown to be as good as"."""
    if comparison.interval is None or comparison.status == stats.INCONCLUSIVE:
        return "not shown to be as good as"
    low, high = comparison.interval
    if comparison.status == stats.NOT_HELD:
        return "below" if high < 0 else "above"
    if low > 0 or high < 0:
        return f"{within} of, and slightly {'above' if low > 0 else 'below'},"
    return "as good as"


# How a 'higher' claim of a regularizer against none reads in a short answer ("tuned L2 beat ...").
BEAT = {
    stats.HELD: "beat",
    stats.NOT_HELD: "scored below",
    stats.INCONCLUSIVE: "did not clearly beat",
}


def smaller_lead(comparison: stats.Comparison) -> str:
    """The first words of an answer to "why dropout, if a smaller network would do?" from the
    'equal' claim of the smaller network against the wide one with dropout: you may not need to
    (as good as), because dropout scored higher (the smaller one below the margin), you need not
    (the smaller one above it), or this run cannot tell."""
    if comparison.status == stats.HELD:
        return "You may not need to"
    if comparison.status == stats.NOT_HELD:
        return "Because it scored higher" if comparison.difference < 0 else "You need not"
    return "This run cannot tell"


def beat_none(l2: stats.Comparison, dropout: stats.Comparison, opponent: str) -> str:
    """Tuned L2's and tuned dropout's 'higher than `opponent`' claims as one sentence of a short
    answer, without its full stop ("Neither tuned L2 nor tuned dropout clearly beat ...")."""
    if l2.status != dropout.status:
        return f"Tuned L2 {BEAT[l2.status]} {opponent}; tuned dropout {BEAT[dropout.status]} it"
    if l2.status == stats.INCONCLUSIVE:
        return f"Neither tuned L2 nor tuned dropout clearly beat {opponent}"
    return f"Tuned L2 and tuned dropout both {BEAT[l2.status]} {opponent}"
