"""Deciding a comparison between two settings from paired per-seed values.

Two settings trained on the same seeds share each seed's data draw and initial weights, so the
per-seed differences `a[i] - b[i]` cancel most of the seed-to-seed spread. A comparison is decided on
them: their mean, a 95% t interval over the seeds, the number of seeds won, and a p-value.

- A claim that one setting is higher (or lower) is tested by the paired t-test (two-sided, as
  `scipy.stats.ttest_rel`). It *held* only if its p-value, adjusted for the false discovery rate over
  all the comparisons of its notebook (Benjamini-Hochberg, `scipy.stats.false_discovery_control`),
  is below 5% and the 95% interval lies on the claimed side of zero; it *did not hold* if both say
  the other side; it is *inconclusive* otherwise.
- A claim that two settings are as good as each other names its equivalence margin beforehand and
  is tested by two one-sided tests (TOST) at 5%: it held only if the 90% interval lies inside
  ±margin and the TOST p-value, adjusted like the others, is below 5%; it did not hold if the whole
  95% interval lies outside the margin; it is inconclusive otherwise.

A comparison alone (`paired`) is a family of one: its adjusted p-value is its p-value. A notebook's
`Recorder` adjusts all of its comparisons together each time it records one (`adjust`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.formatting import number

CONFIDENCE = 0.95
ALPHA = 0.05  # the false discovery rate a notebook's claims are held at, and TOST's level
EXPECTATIONS = ("higher", "lower", "equal")
HELD, NOT_HELD, INCONCLUSIVE = "held", "did not hold", "inconclusive"
STATUSES = (HELD, NOT_HELD, INCONCLUSIVE)


def t_quantile(probability: float, df: int) -> float:
    """The quantile of Student's t distribution with `df` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(probability, df))


def _t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom (t may be ±inf)."""
    from scipy import stats

    return float(stats.t.sf(t, df))


def _ratio(numerator: float, se: float) -> float:
    """numerator / se, with a zero spread read as an exact difference (±inf, or 0 for 0/0)."""
    if se > 0:
        return numerator / se
    return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)


def t_test_p(mean: float, se: float, df: int) -> float:
    """The two-sided p-value of a one-sample t-test that the mean difference is zero."""
    return min(1.0, 2 * _t_sf(abs(_ratio(mean, se)), df))


def tost_p(mean: float, se: float, df: int, margin: float) -> float:
    """The p-value of two one-sided t-tests that the mean difference lies inside ±`margin`: the
    larger of the p-values against `−margin` (from below) and against `+margin` (from above)."""
    if se == 0:  # an exact difference: inside the margin, or not
        return 0.0 if -margin < mean < margin else 1.0
    return max(_t_sf((mean + margin) / se, df), _t_sf((margin - mean) / se, df))


def adjusted_p(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (`scipy.stats.false_discovery_control`)."""
    if not p_values:
        return []
    from scipy import stats

    return [float(p) for p in stats.false_discovery_control(list(p_values), method="bh")]


@dataclass
class Comparison:
    """Paired per-seed differences `a − b`, summarized (all in the units of `scale`·value).

    `p_adjusted` and `status` depend on the other comparisons of the notebook: its `Recorder`
    updates them in place (`adjust`) each time it records a new comparison."""

    difference: float  # mean of the paired differences
    interval: tuple[float, float] | None  # 95% t interval; None with fewer than two seeds
    seeds: int
    won: int  # seeds on which a − b lies on the expected side (above zero for 'higher' and 'equal')
    expect: str  # 'higher', 'lower' or 'equal'
    margin: float | None  # the equivalence margin of an 'equal' claim
    status: str
    scale: float = 1.0  # 100 turns accuracies into points
    unit: str = ""
    p: float | None = None  # paired t-test (two-sided); TOST for 'equal'; None with one seed
    p_adjusted: float | None = None  # over the notebook's comparisons (Benjamini-Hochberg)
    equivalence_interval: tuple[float, float] | None = None  # 90% t interval of an 'equal' claim
    comparisons: int = 1  # how many comparisons `p_adjusted` was adjusted over

    @property
    def half_width(self) -> float | None:
        """Half the interval's width: the smallest mean difference these seeds can tell from zero."""
        return None if self.interval is None else (self.interval[1] - self.interval[0]) / 2

    @property
    def decided(self) -> bool:
        return self.status != INCONCLUSIVE

    @property
    def p_value(self) -> float | None:
        """The comparison's own p-value (`p`)."""
        return self.p

    @property
    def adjusted_p(self) -> float | None:
        """The p-value adjusted over the notebook's comparisons (`p_adjusted`)."""
        return self.p_adjusted

    @property
    def held(self) -> bool:
        return self.status == HELD

    @property
    def direction(self) -> str | None:
        """'higher' or 'lower' where the 95% interval excludes zero (a above or below b), else None."""
        if self.interval is None or self.interval[0] <= 0 <= self.interval[1]:
            return None
        return "higher" if self.interval[0] > 0 else "lower"

    @property
    def effect(self) -> str:
        """The mean difference as the findings write it, signed, with its unit: "−0.09 points"."""
        return self._value(self.difference)

    def _value(self, value: float, signed: bool = True) -> str:
        text = number(value * self.scale, 2 if self.scale != 1 else 3)
        sign = "+" if signed and value > 0 else ""
        return (sign + text).replace("-", "−") + (f" {self.unit}" if self.unit else "")

    def _bare(self, value: float) -> str:
        return self._value(value).removesuffix(f" {self.unit}")

    def _p_text(self) -> str:
        """'adjusted p = 0.004' (with the raw p where the adjustment changed the decision)."""
        if self.p_adjusted is None:
            return "no p-value"
        text = f"adjusted p {p_text(self.p_adjusted)}"
        if self.comparisons > 1 and (self.p < ALPHA) != (self.p_adjusted < ALPHA):
            text = f"p {p_text(self.p)}, {text} over {self.comparisons} comparisons"
        return text

    def summary(self) -> str:
        """'+1.20 points (95% interval +0.40 to +2.00; higher on 9 of 10 seeds; adjusted p = 0.004)'
        and, for an 'equal' claim, its 90% interval and margin first."""
        if self.interval is None:
            return f"{self._value(self.difference)} (one seed: no interval)"
        parts = []
        if self.equivalence_interval is not None:
            low, high = (self._bare(v) for v in self.equivalence_interval)
            margin = self._value(self.margin, signed=False).removesuffix(f" {self.unit}")
            parts.append(f"90% interval {low} to {high}, margin ±{margin}")
        low, high = (self._bare(v) for v in self.interval)
        parts.append(f"95% interval {low} to {high}")
        side = {"higher": "higher", "lower": "lower", "equal": "higher"}[self.expect]
        parts.append(f"{side} on {self.won} of {self.seeds} seeds")
        parts.append(self._p_text())
        return f"{self._value(self.difference)} ({'; '.join(parts)})"

    def measured(self) -> str:
        """The measured sentence: what the numbers say in words, then `summary()`. An 'equal' claim
        says which way the difference goes where the 95% interval excludes zero ("within ±1.00
        points, slightly lower")."""
        if self.interval is None:
            return self.summary()
        way = self.direction
        if self.expect == "equal":
            margin = f"±{self._value(self.margin, signed=False)}"
            lead = {
                HELD: f"within {margin}" + (f", slightly {way}" if way else ""),
                NOT_HELD: f"outside {margin}, {way}",
                INCONCLUSIVE: f"not shown within {margin} at {self.seeds} seeds"
                + (f"; {way}" if way else ""),
            }[self.status]
        elif self.status == INCONCLUSIVE:
            lead = f"not decided at {self.seeds} seeds"
            if way is not None:
                lead += f" once adjusted for the notebook's {self.comparisons} comparisons"
        elif self.status == NOT_HELD:
            lead = f"the other way, {way}"
        else:
            return self.summary()  # held: the expected text said which way
        return f"{lead}: {self.summary()}"

    def cell(self) -> str:
        """The difference and its interval for a table cell: '+1.20 (+0.40 to +2.00)'."""
        if self.interval is None:
            return self._bare(self.difference)
        low, high = (self._bare(v) for v in self.interval)
        return f"{self._bare(self.difference)} ({low} to {high})"

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
            "p": self.p,
            "p_adjusted": self.p_adjusted,
        }
        if self.margin is not None:
            record["margin"] = self.margin
        if self.equivalence_interval is not None:
            record["equivalence_interval"] = list(self.equivalence_interval)
        return record


def p_text(p: float) -> str:
    """'= 0.31', '= 0.004' or '< 0.001': two decimals from 0.1, three below, and as many more as
    it takes for the text to fall on the same side of ALPHA as p ('= 0.0499', not '= 0.050')."""
    if p < 0.001:
        return "< 0.001"
    digits = 2 if p >= 0.1 else 3
    while (float(f"{p:.{digits}f}") < ALPHA) != (p < ALPHA) and digits < 8:
        digits += 1
    return f"= {p:.{digits}f}"


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
    'equal' claim must name). The interval is the t interval of the mean difference over seeds; the
    p-value is the paired t-test's (two-sided), or for 'equal' the two one-sided tests'."""
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
    interval = equivalence = p = None
    if n >= 2:
        se = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1)) / math.sqrt(n)
        half = t_quantile(0.5 + confidence / 2, n - 1) * se
        interval = (mean - half, mean + half)
        if margin is None:
            p = t_test_p(mean, se, n - 1)
        else:
            half = t_quantile(1 - ALPHA, n - 1) * se
            equivalence = (mean - half, mean + half)
            p = tost_p(mean, se, n - 1, margin)
    won = sum(d < 0 if expect == "lower" else d > 0 for d in differences)
    comparison = Comparison(
        mean, interval, n, won, expect, margin, INCONCLUSIVE, scale, unit, p, p, equivalence
    )
    comparison.status = decide(comparison)
    return comparison


def decide(comparison: Comparison) -> str:
    """The status of a comparison from its intervals and its adjusted p-value."""
    c = comparison
    return status_of(c.interval, c.expect, c.margin, c.p_adjusted, c.equivalence_interval)


def adjust(comparisons: Sequence[Comparison]) -> None:
    """Adjust the p-values of a notebook's comparisons together (Benjamini-Hochberg) and decide
    each status anew, in place: one more comparison can change the others' adjusted p-values."""
    tested = [c for c in comparisons if c.p is not None]
    for c, q in zip(tested, adjusted_p([c.p for c in tested]), strict=True):
        c.p_adjusted, c.comparisons = q, len(tested)
        c.status = decide(c)


def status_of(
    interval: tuple[float, float] | None,
    expect: str,
    margin: float | None,
    p_adjusted: float | None = None,
    equivalence_interval: tuple[float, float] | None = None,
) -> str:
    """The status the intervals and the adjusted p-value decide for a claim that expects
    'higher', 'lower' or 'equal'. Without `p_adjusted` (and, for 'equal', the 90%
    `equivalence_interval`) the 95% interval alone decides, as for a comparison made alone."""
    if interval is None:
        return INCONCLUSIVE
    low, high = interval
    significant = p_adjusted is None or p_adjusted < ALPHA
    if expect == "equal":
        inside_low, inside_high = equivalence_interval or interval
        if significant and -margin <= inside_low and inside_high <= margin:
            return HELD
        return NOT_HELD if low > margin or high < -margin else INCONCLUSIVE
    if expect == "lower":
        low, high = -high, -low
    if significant and low > 0:
        return HELD
    return NOT_HELD if significant and high < 0 else INCONCLUSIVE


def claim_status(claim: dict) -> str:
    """The status a comparison's record (`Comparison.as_record`, as the results keep it) decides."""
    interval, inner = claim.get("interval"), claim.get("equivalence_interval")
    return status_of(
        interval and tuple(interval),
        claim["expect"],
        claim.get("margin"),
        claim.get("p_adjusted"),
        inner and tuple(inner),
    )


def detectable_difference(sd: float, seeds: int, confidence: float = CONFIDENCE) -> float:
    """The smallest mean paired difference that `seeds` seeds can tell from zero when the paired
    differences have standard deviation `sd`: the half-width of their t interval."""
    if seeds < 2:
        return math.inf
    return t_quantile(0.5 + confidence / 2, seeds - 1) * sd / math.sqrt(seeds)
