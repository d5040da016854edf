"""Parameter profiles and notebooks' parameters cells, read without executing anything.

A profile (`params/<name>.yaml`) maps notebook stems to parameter values; a notebook's `parameters`
cell gives each parameter its default, its annotation and, for `Literal[...]`, its accepted values.
The values themselves are checked by `nnreg_keras.rules`; here every value (from a profile or a
`-p NAME VALUE` override, both read as YAML) must be plain data that papermill can pass and a
stamp can record: numbers, texts, lists and mappings of a sane size.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import shlex
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.rules import Parameter

PROFILE_BYTES = 1 << 20  # a profile holds a few parameters per notebook
NOTEBOOK_BYTES = 64 << 20  # a tutorial, committed without outputs
VALUE_ITEMS = 100_000  # numbers, texts, lists and mappings in one parameter's value
TEXT_CHARACTERS = 100_000
DEPTH = 50
LARGEST_INTEGER = 2**63


def _described(value: Any) -> str:
    """What a YAML value is, in words: 'a date', 'binary data', 'a list', ..."""
    if isinstance(value, (dt.date, dt.datetime)):
        return f"a date ({value})"
    if isinstance(value, bool) or value is None:
        return repr(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    names = {bytes: "binary data", set: "a set", list: "a list", dict: "a mapping", str: "a text"}
    return names.get(type(value), f"{type(value).__name__} {value!r}"[:80])


def plain_value(value: Any, where: str) -> Any:
    """`value` when it is made of JSON's types (None, booleans, numbers, texts, lists, mappings
    with text keys) and of a sane size; else ParameterError naming `where` and what is accepted.
    YAML also reads dates, binary data, sets and aliases that expand without end."""
    items = 0

    def walk(v: Any, depth: int) -> None:
        nonlocal items
        items += 1
        if items > VALUE_ITEMS or depth > DEPTH:
            raise ParameterError(
                f"{where} is too large: at most {VALUE_ITEMS:,} items, nested at most {DEPTH} deep"
            )
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return
        if isinstance(v, int):
            if abs(v) >= LARGEST_INTEGER:
                raise ParameterError(f"{where} is an integer beyond ±2**63; no parameter takes one")
            return
        if isinstance(v, str):
            if len(v) > TEXT_CHARACTERS:
                raise ParameterError(
                    f"{where} is a text of more than {TEXT_CHARACTERS:,} characters"
                )
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ParameterError(f"{where} holds a lone surrogate, not text") from None
            return
        if isinstance(v, list):
            for item in v:
                walk(item, depth + 1)
            return
        if isinstance(v, dict):
            for key, item in v.items():
                if not isinstance(key, str):
                    raise ParameterError(f"{where} has the key {key!r}; keys must be texts")
                walk(item, depth + 1)
            return
        raise ParameterError(
            f"{where} is {_described(v)}, which a notebook parameter cannot be; give a number, "
            f"a text, a list or a mapping (quote a text that YAML reads otherwise: '\"2024-01-01\"')"
        )

    walk(value, 0)
    return value


def _yaml_problem(err: Exception) -> str:
    """A YAML error in one line: the problem and where."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _shown(text: str, limit: int = 80) -> str:
    """A value as one short line for a message."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def override_values(pairs: list[tuple[str, str]] | list[list[str]]) -> dict[str, Any]:
    """`-p NAME VALUE` overrides as {name: value}, each VALUE read as YAML (as papermill's -y
    does: 400 is a number, [0, 1] a list, height a text) and checked to be plain data."""
    values = {}
    for name, text in pairs:
        shown = _shown(f"-p {name} {shlex.quote(text.strip())}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ParameterError(
                f"{shown}: the value is not valid YAML ({_yaml_problem(err)}); write a number "
                f"(-p steps 400), a list (-p seeds '[0, 1]') or a text, quoted when it holds "
                f"YAML's characters (-p title '\"a: b\"')"
            ) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as err:  # 5000 digits
            raise ParameterError(
                f"{shown}: the value cannot be read ({_shown(str(err))}); give a number, a "
                f"text or a list of a sane size"
            ) from None
        values[name] = plain_value(value, shown)
    return values


def _literal_choices(annotation: ast.expr | None) -> tuple | None:
    if not isinstance(annotation, ast.Subscript):
        return None
    head = annotation.value
    if (head.id if isinstance(head, ast.Name) else getattr(head, "attr", None)) != "Literal":
        return None
    items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
    return tuple(ast.literal_eval(item) for item in items)


def notebook_parameters(notebook_path: Path) -> dict[str, Parameter]:
    """The parameters cell of a notebook, read without executing it: plain (`a = 1`) and typed
    (`a: int = 1`, `m: Literal["loss", "accuracy"] = "loss"`) lines, each default a literal."""
    import nbformat

    from nnreg_keras.pipeline.landing import read_text

    path = Path(notebook_path)
    fix = f"restore it (git checkout -- {path}) or repair it in Jupyter"
    text = read_text(path, "notebook", ParameterError, fix, NOTEBOOK_BYTES)
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        source = cells[0].source if cells else None
    except Exception as err:  # nbformat raises JSON, schema and version errors of many types
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:160]
        raise ParameterError(
            f"notebook {path} is not a Jupyter notebook ({reason}); {fix}"
        ) from None
    if source is None:
        raise ParameterError(f"notebook {path.name}: no cell tagged 'parameters'")
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError) as err:
        raise ParameterError(
            f"notebook {path.name}: its parameters cell is not valid Python "
            f"({getattr(err, 'msg', err)}, line {getattr(err, 'lineno', '?')}); {fix}"
        ) from None
    found: dict[str, Parameter] = {}
    for node in body:
        try:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                found[node.targets[0].id] = Parameter(ast.literal_eval(node.value))
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                found[node.target.id] = Parameter(
                    ast.literal_eval(node.value),
                    ast.unparse(node.annotation),
                    _literal_choices(node.annotation),
                )
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise ParameterError(
                f"notebook {path.name}, parameters cell, line {node.lineno}: "
                f"{ast.get_source_segment(source, node) or 'this line'} is not a literal; each "
                f"parameter's default is a number, a text, a list or a mapping, written out"
            ) from None
    return found


def notebook_defaults(notebook_path: Path) -> dict[str, Any]:
    """The parameters cell of a notebook as {name: default value}, read without executing it."""
    return {name: p.default for name, p in notebook_parameters(notebook_path).items()}


def load_profile(
    path: Path,
    notebook_stems: list[str],
    absent: Collection[str] = (),
    allow_unknown: bool = False,
) -> dict[str, dict[str, Any]]:
    """Read a profile: {notebook stem: {parameter: value}}. Every section must be a mapping of
    plain values; every stem must name a notebook, or one of the `absent` notebooks (whose sections
    are left out), unless `allow_unknown` (a run of some notebooks only: a section for another
    notebook is no concern of it)."""
    from nnreg_keras.pipeline.landing import read_text

    path = Path(path)
    if not os.path.lexists(path):
        available = sorted(p.stem for p in path.parent.glob("*.yaml"))
        where = (
            ""
            if path.parent.is_dir()
            else f"; there is no directory {path.parent} in {Path.cwd()}: run from the "
            f"project's directory, or give --params DIR"
        )
        raise ParameterError(
            f"profile file {path} does not exist; available profiles: "
            f"{', '.join(available) or 'none'}{where}"
        )
    fix = "save it as UTF-8 YAML of at most 1 MB: one section per notebook"
    text = read_text(path, "profile file", ParameterError, fix, PROFILE_BYTES)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ParameterError(f"profile file {path} is not valid YAML: {err}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise ParameterError(
            f"profile file {path} cannot be read as YAML ({_shown(str(err))}); {fix}"
        ) from None
    data = {} if data is None else data
    example = "a notebook's name, then its parameters indented under it (`  steps: 400`)"
    if not isinstance(data, dict):
        raise ParameterError(
            f"profile file {path} must map notebook names to their parameters; it holds "
            f"{_described(data)}; write one section per notebook: {example}"
        )
    for stem, section in data.items():
        where = f"profile file {path}: section {stem!r}"
        if not isinstance(stem, str):
            raise ParameterError(f"{where} is not a notebook name; write {example}")
        if section is None:
            raise ParameterError(
                f"{where} is empty; give it parameters (`  steps: 400` under it), or delete it "
                f"and the notebook runs with its own defaults"
            )
        if not isinstance(section, dict):
            raise ParameterError(
                f"{where} is {_described(section)}, not parameters; write {example}"
            )
        for name, value in section.items():
            if not isinstance(name, str):
                raise ParameterError(f"{where}: {name!r} is not a parameter name")
            plain_value(value, f"{where}, parameter {name!r}")
    data = {stem: values for stem, values in data.items() if stem not in absent}
    unknown = sorted(set(data) - set(notebook_stems))
    if unknown and not allow_unknown:
        raise ParameterError(
            f"profile file {path} names notebooks that do not exist: "
            f"{', '.join(unknown)}; notebooks: {', '.join(notebook_stems)}"
        )
    return data
