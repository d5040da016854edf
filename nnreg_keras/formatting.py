"""How numbers are written, the same way in notebooks, tables and the report."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def number(value: Any, digits: int = 3) -> str:
    """Integers with thousands separators; other numbers with `digits` decimals, or with `digits`
    significant digits when decimals would hide them (7.3e-05, not 0.000)."""
    if value is None:
        return ""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        and not hasattr(value, "__float__")
    ):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == 0 or abs(v) >= 10 ** (1 - digits):
        return f"{v:,.{digits}f}"
    return f"{v:.{digits - 1}g}" if digits > 1 else f"{v:.1g}"


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("mean_sd needs at least one value")
    mean = sum(v) / len(v)
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return mean, sd


def mean_sd_text(values: Iterable[float], digits: int = 3) -> str:
    """'mean ± sd' as text, each written by `number`."""
    mean, sd = mean_sd(values)
    return f"{number(mean, digits)} ± {number(sd, digits)}"


def dropout_label(rate: float, course: bool = True) -> str:
    """Dropout strength in both conventions: Keras's rate and the course's keep_prob; with
    `course=False`, the rate alone, in plain words (as a short answer says it)."""
    return f"dropout rate {rate:g}" + (f" (keep_prob {1 - rate:g})" if course else "")


def l2_label(l2: float, m: int) -> str:
    """A Keras `L2(l2)` factor also in the course's λ: the same penalty is λ/(2m)·ΣW², so λ = 2·m·l2."""
    return f"L2 {l2:.3g} (course λ {2 * m * l2:.3g})"
