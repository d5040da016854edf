"""The rules a notebook parameter's value must follow, decided by its name, shared by every tutorial.

A parameter's name carries its meaning, so one rule serves every notebook:

=========================================  ==================================================
name                                        accepted values
=========================================  ==================================================
``*_rate`` (not ``learning_rate``)          a number in [0, 1): a dropout rate
``*_rates``                                 a non-empty list of such rates
``keep_prob``                               a number in (0, 1]
``l2``, ``*_l2``, ``lambd``                 a number >= 0
``l2s``, ``*_l2s``, ``lambds``              a non-empty list of numbers >= 0
``learning_rate``                           a number > 0 (an integer is converted to float)
``label_noise``                             a number in [0, 0.5)
``width``, ``steps``, ``n_train``, ...      a positive integer, at most ``LIMITS[name]``
``hidden_units``, ``*_units``               a non-empty list of positive integers
``seeds``                                   a non-empty list of distinct integers in
                                            [0, 2**32 - 1] (numpy's seeds)
``dataset``                                 a name in ``nnreg_keras.data.DATASETS``
``*_path``                                  "" or an existing file, made absolute from the
                                            directory the run was started in
=========================================  ==================================================

Numbers must be finite; numbers written as strings (YAML reads ``1e-3`` as a string) are accepted,
and so are lists written as strings (``"[0, 1]"``, as papermill's ``-p seeds "[0, 1]"`` passes one).
A parameter annotated ``Literal["a", "b"]`` in the notebook accepts only those values; any other
parameter keeps the type of its annotation or of its default. `steps` must be a multiple of
`record_every`. Every problem is reported as ``parameter 'name' = value: accepted ...`` in one
`ParameterError` naming the notebook.

Called from a notebook (``check_parameters(NOTEBOOK, dict(seeds=seeds, ...))``), the check also
reads the annotations of the notebook's parameters cell and sets the notebook's own variables to
the converted values, so the cells after it see ``seeds == [0, 1]`` however the value was passed.
"""

from __future__ import annotations

import math
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import ParameterError

# Upper bounds on sizes: beyond them a run takes hours or exhausts memory on a laptop.
LIMITS = {
    "steps": 1_000_000,
    "epochs": 100_000,
    "record_every": 1_000_000,
    "mc_samples": 100_000,
    "n_train": 1_000_000,
    "n_test": 1_000_000,
    "width": 8192,
    "units": 8192,
    "permutation_repeats": 1000,
}


class _Rejected(Exception):
    """Raised by a check with what it accepts."""


Check = Callable[[Any], Any]  # returns the value, converted; raises _Rejected(accepted) when bad


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any, accepted: str) -> float | int:
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise _Rejected(accepted) from None
    if not _is_number(v) or not math.isfinite(v):
        raise _Rejected(accepted)
    return v


def in_range(
    low: float, high: float = math.inf, low_open: bool = False, high_open: bool = True
) -> Check:
    """A finite number in the interval, as float; the accepted range reads like "[0, 1)"."""
    if low == -math.inf:
        accepted = "a finite number"
    elif high == math.inf:
        accepted = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        accepted = (
            f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )

    def check(v: Any) -> float:
        v = float(_finite(v, accepted))
        inside_low = v > low if low_open else v >= low
        inside_high = v < high if high_open else v <= high
        if not (inside_low and inside_high):
            raise _Rejected(accepted)
        return v

    return check


def integer(low: int = 1, high: int | None = None) -> Check:
    """An integer in [low, high]; integral floats and numeric strings ("1e4") are converted."""
    accepted = ("a positive integer" if low == 1 else f"an integer >= {low}") + (
        f" up to {high:,}" if high is not None else ""
    )

    def check(v: Any) -> int:
        v = _finite(v, accepted)
        if v != int(v) or v < low or (high is not None and v > high):
            raise _Rejected(accepted)
        return int(v)

    return check


def _as_list(v: Any) -> Any:
    """A list written as a string ("[0, 1]", as papermill's -p passes one), read as YAML like the
    runner's -p VALUE; any other value as it is."""
    if not (isinstance(v, str) and v.strip().startswith("[")):
        return v
    import yaml

    try:
        parsed = yaml.safe_load(v)
    except yaml.YAMLError:
        return v
    return parsed if isinstance(parsed, list) else v


def list_of(item: Check, distinct: bool = False) -> Check:
    """A non-empty list, each item passing `item` (and all different when `distinct`)."""
    try:
        item(None)
    except _Rejected as err:
        accepted = f"a non-empty list{' of distinct items' if distinct else ''}, each item {err}"

    def check(v: Any) -> list:
        v = _as_list(v)
        if not isinstance(v, list) or not v:
            raise _Rejected(accepted)
        try:
            items = [item(x) for x in v]
        except _Rejected:
            raise _Rejected(accepted) from None
        if distinct and len(set(items)) != len(items):
            raise _Rejected(accepted)
        return items

    return check


def _dataset(v: Any) -> str:
    from nnreg_keras.data import DATASETS

    if v not in DATASETS:
        raise _Rejected("one of: " + ", ".join(sorted(DATASETS)))
    return v


def _file_path(v: Any) -> str:
    """ "" (no file) or an existing file, made absolute from the current directory."""
    accepted = '"" or the path of an existing .mat, .npz or .csv file'
    if not isinstance(v, str):
        raise _Rejected(accepted)
    if not v:
        return v
    path = Path(v).expanduser().absolute()
    if path.is_dir():
        raise _Rejected(f"{accepted} ({path} is a directory)")
    if path.exists() and not path.is_file():
        raise _Rejected(f"{accepted} ({path} is a FIFO, socket or device, not a file)")
    if not path.is_file():
        raise _Rejected(f"{accepted} ({path} does not exist)")
    return str(path)


_rate = in_range(0, 1)


def check_rate(rate: Any, name: str = "rate") -> float:
    """A dropout rate as a float (the share of units dropped, Keras's `rate` = 1 − keep_prob);
    ParameterError naming `name` unless it is a number in [0, 1). The one rate check of the package:
    parameters named `*_rate`, `models` and `adaptive` all use it."""
    try:
        if isinstance(rate, (str, bool)) or not hasattr(rate, "__float__"):
            raise _Rejected("")
        return _rate(float(rate))
    except _Rejected:
        raise ParameterError(
            f"{name} must be a dropout rate in [0, 1) (the share of units dropped; "
            f"1 would drop everything), got {rate!r}"
        ) from None


_non_negative = in_range(0)
_RULES: dict[str, Check] = {
    "keep_prob": in_range(0, 1, low_open=True, high_open=False),
    "learning_rate": in_range(0, low_open=True),
    "label_noise": in_range(0, 0.5),
    "seeds": list_of(integer(0, 2**32 - 1), distinct=True),  # numpy's seeds
    "dataset": _dataset,
    "lambd": _non_negative,
    "lambds": list_of(_non_negative),
    "l2": _non_negative,
    "l2s": list_of(_non_negative),
    "hidden_units": list_of(integer(1, LIMITS["units"])),
}
_SUFFIX_RULES: list[tuple[str, Check]] = [
    ("_rates", list_of(_rate)),
    ("_rate", _rate),
    ("_l2s", list_of(_non_negative)),
    ("_l2", _non_negative),
    ("_units", list_of(integer(1, LIMITS["units"]))),
    ("_path", _file_path),
]
_POSITIVE_INT_NAMES = (
    "width",
    "steps",
    "epochs",
    "record_every",
    "n_train",
    "n_test",
    "mc_samples",
    "permutation_repeats",
)


def rule_for(name: str) -> Check | None:
    """The shared check for a parameter name, or None when only its type is checked."""
    if name in _RULES:
        return _RULES[name]
    for suffix, check in _SUFFIX_RULES:
        if name.endswith(suffix):
            return check
    for base in _POSITIVE_INT_NAMES:
        if name == base or name.endswith("_" + base):
            return integer(1, LIMITS.get(base))
    return None


@dataclass(frozen=True)
class Parameter:
    """One line of a notebook's parameters cell: its default, type annotation and accepted values."""

    default: Any
    annotation: str | None = None
    choices: tuple | None = None


def _type_check(param: Parameter) -> Check | None:
    """A check from the annotation (or the default's type) of a parameter without a name rule."""
    kind = param.annotation or (None if param.default is None else type(param.default).__name__)
    simple = {"float": in_range(-math.inf), "int": integer(-(2**63)), "str": None, "bool": None}
    if kind in ("float", "int"):
        return simple[kind]
    if kind and kind.startswith("list[") and kind[5:-1] in ("float", "int"):
        return list_of(simple[kind[5:-1]])
    expected = {"str": str, "bool": bool, "list": list, "dict": dict}.get(
        kind.split("[")[0] if kind else ""
    )
    if expected is None:
        return None

    def check(v: Any) -> Any:
        if expected is list:
            v = _as_list(v)
        if type(v) is not expected:
            like = "" if param.default is None else f" like the default {param.default!r}"
            raise _Rejected(f"a value of type {kind}{like}")
        return v

    return check


def _choices(param: Parameter) -> Check:
    def check(v: Any) -> Any:
        if v not in param.choices:
            raise _Rejected("one of: " + ", ".join(repr(c) for c in param.choices))
        return v

    return check


def _checks(name: str, param: Parameter | None) -> list[Check]:
    checks = [rule_for(name) or (_type_check(param) if param else None)]
    if param is not None and param.choices:
        checks.append(_choices(param))
    return [c for c in checks if c is not None]


def _as_parameter(default: Any) -> Parameter:
    return default if isinstance(default, Parameter) else Parameter(default)


def _cross_field(values: dict[str, Any]) -> list[str]:
    steps, every = values.get("steps"), values.get("record_every")
    if isinstance(steps, int) and isinstance(every, int) and every > 0 and steps % every:
        return [
            f"parameter 'steps' = {steps!r}: accepted a multiple of record_every ({every}), "
            f"such as {max(every, steps - steps % every)}"
        ]
    return []


def converted_parameters(
    values: dict[str, Any], defaults: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Values converted to their accepted types, and one line per bad parameter (name, value, accepted)."""
    defaults = {k: _as_parameter(v) for k, v in (defaults or {}).items()}
    converted, problems = {}, []
    for name, value in values.items():
        try:
            for check in _checks(name, defaults.get(name)):
                value = check(value)
            converted[name] = value
        except _Rejected as err:
            problems.append(f"parameter {name!r} = {value!r}: accepted {err}")
    if not problems:
        problems = _cross_field(converted)
    return converted, problems


def parameter_problems(values: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """One line per bad parameter: its name, the value given and what is accepted."""
    return converted_parameters(values, defaults)[1]


def _annotation(annotation: Any) -> Parameter:
    """A live annotation (`list[int]`, `Literal["a", "b"]`) as the `Parameter` it declares."""
    if typing.get_origin(annotation) is typing.Literal:
        return Parameter(None, "Literal", typing.get_args(annotation))
    if isinstance(annotation, type):
        return Parameter(None, annotation.__name__)
    return Parameter(None, str(annotation).replace("typing.", ""))


def _calling_notebook() -> dict[str, Any] | None:
    """The namespace of the notebook cell that called `check_parameters`, or None elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    namespace = shell.user_global_ns
    return namespace if sys._getframe(2).f_globals is namespace else None


def check_parameters(
    notebook: str, values: dict[str, Any], defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Raise ParameterError naming the notebook and every bad parameter; else return the values,
    converted (numbers from strings, lists from strings, integers where a float is expected, paths
    made absolute).

    `defaults` maps names to default values or to `Parameter`s (as `notebook_parameters` reads them);
    when given, a name it lacks is reported as unknown. Called from a notebook without `defaults`,
    the annotations of its parameters cell say each parameter's type, and the notebook's variables
    that were passed are set to their converted values."""
    namespace = _calling_notebook()
    types = defaults
    if defaults is None and namespace is not None:
        annotations = namespace.get("__annotations__", {})
        types = {name: _annotation(annotations[name]) for name in values if name in annotations}
    converted, problems = converted_parameters(values, types)
    if defaults is not None:
        unknown = sorted(set(values) - set(defaults))
        problems += [
            f"parameter {n!r} is unknown; accepted names: {', '.join(sorted(defaults))}"
            for n in unknown
        ]
    if problems:
        raise ParameterError(f"notebook {notebook}: " + "\n  ".join([""] + problems).lstrip())
    for name, value in converted.items():
        if namespace is not None and namespace.get(name) is values[name]:
            namespace[name] = value
    return converted
