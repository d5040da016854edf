"""Deciding a comparison between two settings from paired per-seed values.

Two settings trained on the same seeds share each seed's data draw and initial weights, so the
per-seed differences `a[i] - b[i]` cancel most of the seed-to-seed spread. A comparison is decided on
them: their mean, a 95% t interval over the seeds, and the number of seeds won. A claim that one
setting is higher (or lower) *held* only if the whole interval lies on that side of zero, *did not
hold* if it lies on the other side, and is *inconclusive* otherwise. A claim that two settings are
as good as each other names its equivalence margin beforehand and held only if the whole interval
lies inside ±margin (did not hold if it lies wholly outside).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.formatting import number

CONFIDENCE = 0.95
EXPECTATIONS = ("higher", "lower", "equal")
HELD, NOT_HELD, INCONCLUSIVE = "held", "did not hold", "inconclusive"
STATUSES = (HELD, NOT_HELD, INCONCLUSIVE)


def t_quantile(probability: float, df: int) -> float:
    """The quantile of Student's t distribution with `df` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(probability, df))


@dataclass(frozen=True)
class Comparison:
    """Paired per-seed differences `a − b`, summarized (all in the units of `scale`·value)."""

    difference: float  # mean of the paired differences
    interval: tuple[float, float] | None  # 95% t interval; None with fewer than two seeds
    seeds: int
    won: int  # seeds on which a − b lies on the expected side (above zero for 'higher' and 'equal')
    expect: str  # 'higher', 'lower' or 'equal'
    margin: float | None  # the equivalence margin of an 'equal' claim
    status: str
    scale: float = 1.0  # 100 turns accuracies into points
    unit: str = ""

    @property
    def half_width(self) -> float | None:
        """Half the interval's width: the smallest mean difference these seeds can tell from zero."""
        return None if self.interval is None else (self.interval[1] - self.interval[0]) / 2

    @property
    def decided(self) -> bool:
        return self.status != INCONCLUSIVE

    def _value(self, value: float, signed: bool = True) -> str:
        text = number(value * self.scale, 2 if self.scale != 1 else 3)
        sign = "+" if signed and value > 0 else ""
        return (sign + text).replace("-", "−") + (f" {self.unit}" if self.unit else "")

    def summary(self) -> str:
        """'+1.20 points (95% interval +0.40 to +2.00; higher on 9 of 10 seeds)'."""
        if self.interval is None:
            return f"{self._value(self.difference)} (one seed: no interval)"
        low, high = (self._value(v).removesuffix(f" {self.unit}") for v in self.interval)
        side = {"higher": "higher", "lower": "lower", "equal": "higher"}[self.expect]
        text = f"{self._value(self.difference)} (95% interval {low} to {high}; {side} on "
        text += f"{self.won} of {self.seeds} seeds"
        if self.margin is not None:
            text += f"; margin ±{self._value(self.margin, signed=False)}"
        return text + ")"

    def cell(self) -> str:
        """The difference and its interval for a table cell: '+1.20 (+0.40 to +2.00)'."""
        if self.interval is None:
            return self._value(self.difference).removesuffix(f" {self.unit}")
        low, high = (self._value(v).removesuffix(f" {self.unit}") for v in self.interval)
        return f"{self._value(self.difference).removesuffix(f' {self.unit}')} ({low} to {high})"

    def winner(self, a: str, b: str) -> str:
        """`a` or `b` where the interval excludes zero, else 'tie'."""
        if self.interval is None or self.interval[0] <= 0 <= self.interval[1]:
            return "tie"
        return a if self.difference > 0 else b

    def as_record(self) -> dict:
        """The fields the results contract keeps for a comparison (in the values' own units)."""
        record = {
            "difference": self.difference,
            "interval": None if self.interval is None else list(self.interval),
            "seeds": self.seeds,
            "won": self.won,
            "expect": self.expect,
        }
        if self.margin is not None:
            record["margin"] = self.margin
        return record


def _values(values: Sequence[float], name: str) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a sequence of numbers, got {values!r}") from None
    if not out or not all(math.isfinite(v) for v in out):
        raise ParameterError(f"{name}: expected one finite number per seed, got {out!r}")
    return out


def paired(
    a: Sequence[float],
    b: Sequence[float],
    expect: str = "higher",
    margin: float | None = None,
    scale: float = 1.0,
    unit: str = "",
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Compare setting `a` with setting `b` on paired per-seed values and decide `expect`.

    `expect` is 'higher' (a above b), 'lower' (a below b) or 'equal' (within ±`margin`, which an
    'equal' claim must name). The interval is the t interval of the mean difference over seeds."""
    if expect not in EXPECTATIONS:
        raise ParameterError(f"expect = {expect!r}: accepted one of {', '.join(EXPECTATIONS)}")
    if (expect == "equal") != (margin is not None):
        raise ParameterError(
            "an 'equal' claim needs its equivalence margin (margin=...), and only it takes one"
        )
    if margin is not None and not (math.isfinite(margin) and margin > 0):
        raise ParameterError(f"margin = {margin!r}: accepted a finite number > 0")
    a, b = _values(a, "a"), _values(b, "b")
    if len(a) != len(b):
        raise ParameterError(
            f"paired values need one value per seed on each side, got {len(a)} and {len(b)}"
        )
    differences = [x - y for x, y in zip(a, b, strict=True)]
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        interval = None
    else:
        sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
        half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
        interval = (mean - half, mean + half)
    won = sum(d < 0 if expect == "lower" else d > 0 for d in differences)
    return Comparison(
        mean, interval, n, won, expect, margin, status_of(interval, expect, margin), scale, unit
    )


def status_of(interval: tuple[float, float] | None, expect: str, margin: float | None) -> str:
    """The status an interval decides for a claim that expects 'higher', 'lower' or 'equal'."""
    if interval is None:
        return INCONCLUSIVE
    low, high = interval
    if expect == "equal":
        if -margin <= low and high <= margin:
            return HELD
        return NOT_HELD if low > margin or high < -margin else INCONCLUSIVE
    if expect == "lower":
        low, high = -high, -low
    if low > 0:
        return HELD
    return NOT_HELD if high < 0 else INCONCLUSIVE


def detectable_difference(sd: float, seeds: int, confidence: float = CONFIDENCE) -> float:
    """The smallest mean paired difference that `seeds` seeds can tell from zero when the paired
    differences have standard deviation `sd`: the half-width of their t interval."""
    if seeds < 2:
        return math.inf
    return t_quantile(0.5 + confidence / 2, seeds - 1) * sd / math.sqrt(seeds)
