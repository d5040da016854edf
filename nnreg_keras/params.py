"""Notebook parameters: the checks every tutorial shares, and the YAML parameter profiles.

A parameter's name carries its meaning, so one rule serves every notebook:

=========================================  ==================================================
name                                        accepted values
=========================================  ==================================================
``*_rate`` (not ``learning_rate``)          a number in [0, 1): a dropout rate
``*_rates``                                 a non-empty list of such rates
``keep_prob``                               a number in (0, 1]
``l2``, ``*_l2``, ``lambd``                 a number >= 0
``l2s``, ``*_l2s``, ``lambds``              a non-empty list of numbers >= 0
``learning_rate``, ``label_noise`` ...      see ``_RULES`` below
``width``, ``*_width``, ``steps``, ...      a positive integer
``seeds``                                   a non-empty list of distinct integers >= 0
``dataset``                                 a name in ``nnreg_keras.data.DATASETS``
=========================================  ==================================================

Any other parameter must keep the type of its default in the notebook.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Callable

import yaml

from nnreg_keras.exceptions import ParameterError

Check = Callable[[Any], "str | None"]  # returns None when fine, else what is accepted


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rate(v: Any) -> str | None:
    return None if _is_number(v) and 0 <= v < 1 else "a number in [0, 1)"


def _keep_prob(v: Any) -> str | None:
    return None if _is_number(v) and 0 < v <= 1 else "a number in (0, 1]"


def _non_negative(v: Any) -> str | None:
    return None if _is_number(v) and v >= 0 else "a number >= 0"


def _positive(v: Any) -> str | None:
    return None if _is_number(v) and v > 0 else "a number > 0"


def _positive_int(v: Any) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) and v > 0 else "a positive integer"


def _fraction(v: Any) -> str | None:
    return None if _is_number(v) and 0 <= v < 0.5 else "a number in [0, 0.5)"


def _list_of(check: Check) -> Check:
    def run(v: Any) -> str | None:
        if isinstance(v, list) and v and all(check(item) is None for item in v):
            return None
        return f"a non-empty list, each item {check(None)}"
    return run


def _seeds(v: Any) -> str | None:
    ok = (isinstance(v, list) and v and len(set(v)) == len(v)
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v))
    return None if ok else "a non-empty list of distinct integers >= 0"


def _dataset(v: Any) -> str | None:
    from nnreg_keras.data import DATASETS
    return None if v in DATASETS else "one of: " + ", ".join(sorted(DATASETS))


_RULES: dict[str, Check] = {
    "keep_prob": _keep_prob, "learning_rate": _positive, "label_noise": _fraction,
    "seeds": _seeds, "dataset": _dataset, "lambd": _non_negative, "lambds": _list_of(_non_negative),
    "l2": _non_negative, "l2s": _list_of(_non_negative),
}
_SUFFIX_RULES: list[tuple[str, Check]] = [
    ("_rates", _list_of(_rate)), ("_rate", _rate), ("_l2s", _list_of(_non_negative)),
    ("_l2", _non_negative),
]
_POSITIVE_INT_NAMES = ("width", "steps", "epochs", "record_every", "n_train", "n_test", "mc_samples")


def rule_for(name: str) -> Check | None:
    """The shared check for a parameter name, or None when only its type is checked."""
    if name in _RULES:
        return _RULES[name]
    for suffix, check in _SUFFIX_RULES:
        if name.endswith(suffix):
            return check
    if any(name == n or name.endswith("_" + n) for n in _POSITIVE_INT_NAMES):
        return _positive_int
    return None


def _same_type(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return True
    if _is_number(default) and isinstance(default, float):
        return _is_number(value)
    return type(value) is type(default)


def parameter_problems(values: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """One line per bad parameter: its name, the value given and what is accepted."""
    problems = []
    for name, value in values.items():
        check = rule_for(name)
        accepted = check(value) if check else None
        if accepted is None and defaults is not None and name in defaults:
            if not _same_type(value, defaults[name]):
                accepted = f"a value of type {type(defaults[name]).__name__} like the default {defaults[name]!r}"
        if accepted is not None:
            problems.append(f"parameter {name!r} = {value!r}: accepted {accepted}")
    return problems


def check_parameters(notebook: str, values: dict[str, Any],
                     defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Raise ParameterError naming the notebook and every bad parameter; return `values` if all fine."""
    problems = parameter_problems(values, defaults)
    if defaults is not None:
        unknown = sorted(set(values) - set(defaults))
        problems += [f"parameter {n!r} is unknown; accepted names: {', '.join(sorted(defaults))}"
                     for n in unknown]
    if problems:
        raise ParameterError(f"notebook {notebook}: " + "\n  ".join([""] + problems).lstrip())
    return dict(values)


def notebook_defaults(notebook_path: Path) -> dict[str, Any]:
    """The parameters cell of a notebook as {name: default value}, read without executing it."""
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ParameterError(f"notebook {notebook_path.name}: no cell tagged 'parameters'")
    defaults: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            defaults[node.target.id] = ast.literal_eval(node.value)  # typed: `width: int = 128  # help`
    return defaults


def load_profile(path: Path, notebook_stems: list[str]) -> dict[str, dict[str, Any]]:
    """Read a profile: {notebook stem: {parameter: value}}. Every stem must name a notebook."""
    path = Path(path)
    if not path.is_file():
        available = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ParameterError(f"profile file {path} does not exist; available profiles: "
                             f"{', '.join(available) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParameterError(f"profile file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ParameterError(f"profile file {path} must map notebook names to parameter mappings")
    unknown = sorted(set(data) - set(notebook_stems))
    if unknown:
        raise ParameterError(f"profile file {path} names notebooks that do not exist: "
                             f"{', '.join(unknown)}; notebooks: {', '.join(notebook_stems)}")
    return data
