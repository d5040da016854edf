"""Parameter profiles and notebooks' parameters cells, read without executing anything.

A profile (`params/<name>.yaml`) maps notebook stems to parameter values; a notebook's `parameters`
cell, read through `papermill.inspect_notebook`, gives each parameter its type, default and
declared rule (see `nnreg_keras.rules`, which checks the values). Every value, from a profile or a
`-p NAME VALUE` override (read as YAML), must be plain data that papermill can pass and a stamp can
record: numbers, texts, lists and mappings of a sane size.
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
from nnreg_keras.pipeline.files import read_text
from nnreg_keras.rules import Rule, RuleError, parse

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


class Text(str):
    """A value given on the command line (`-p NAME VALUE`), read in its parameter's type later."""


def override_values(pairs: list[tuple[str, str]] | list[list[str]]) -> dict[str, Any]:
    """`-p NAME VALUE` overrides as {name: the text}, read in each parameter's type by `typed`."""
    return {name: Text(text) for name, text in pairs}


def typed(name: str, value: Any, rule: Rule) -> Any:
    """A value in its parameter's type: command-line text read as YAML (as papermill's -y does:
    400 is a number, [0, 1] a list), except that a text parameter keeps the text as given."""
    if not isinstance(value, Text):
        return value
    shown = _shown(f"-p {name} {shlex.quote(value.strip())}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        if rule.type == "str":
            return plain_value(str(value), shown)
        raise ParameterError(
            f"{shown}: the value is not valid YAML ({_yaml_problem(err)}); write a number "
            f"(-p steps 400), a list (-p seeds '[0, 1]') or a text"
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # 5000 digits
        raise ParameterError(
            f"{shown}: the value cannot be read ({_shown(str(err))}); give a number, a "
            f"text or a list of a sane size"
        ) from None
    if rule.type == "str" and not isinstance(parsed, str):
        parsed = str(value).strip()
    return plain_value(parsed, shown)


def _parameters_cell(path: Path) -> tuple[Any, Any]:
    """The notebook and its one cell tagged `parameters`; ParameterError with the fix when it is
    not a notebook, or has no such cell, or two (the second would override the first)."""
    import nbformat

    fix = f"restore it (git checkout -- {path}) or repair it in Jupyter"
    text = read_text(path, "notebook", ParameterError, fix, NOTEBOOK_BYTES)
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    except Exception as err:  # nbformat raises JSON, schema and version errors of many types
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:160]
        raise ParameterError(
            f"notebook {path} is not a Jupyter notebook ({reason}); {fix}"
        ) from None
    tag = (
        "tag it `parameters` (JupyterLab: the cell's property inspector, Add Tag; Jupyter "
        "Notebook: View > Cell Toolbar > Tags)"
    )
    if not cells:
        raise ParameterError(
            f"notebook {path.name} has no cell tagged 'parameters', so no value can be given to "
            f"it; put its parameters in one code cell, one typed line each, and {tag}"
        )
    if len(cells) > 1:
        where = ", ".join(str(nb.cells.index(c) + 1) for c in cells)
        raise ParameterError(
            f"notebook {path.name} has {len(cells)} cells tagged 'parameters' (cells {where}); the "
            f"second would override the values given to the first: keep one, and remove the tag "
            f"from the others"
        )
    return nb, cells[0]


def notebook_parameters(notebook_path: Path) -> dict[str, Rule]:
    """The parameters of a notebook as papermill reads its parameters cell
    (`papermill.inspect_notebook`), each with its type, default and declared rule; read without
    executing anything."""
    from papermill.translators import papermill_translators

    path = Path(notebook_path)
    nb, cell = _parameters_cell(path)
    where = f"notebook {path.name}, parameters cell"
    try:
        body = ast.parse(cell.source).body
    except (SyntaxError, ValueError, RecursionError) as err:
        raise ParameterError(
            f"{where}: not valid Python ({getattr(err, 'msg', err)}, line "
            f"{getattr(err, 'lineno', '?')}); repair it in Jupyter"
        ) from None
    lines = {
        (node.targets[0] if isinstance(node, ast.Assign) else node.target).id: node.lineno
        for node in body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and isinstance(node.targets[0] if isinstance(node, ast.Assign) else node.target, ast.Name)
    }
    # papermill's own reading of a parameters cell (what `papermill --help-notebook` shows), for
    # the python3 kernel every notebook runs in, whatever kernel its metadata names (or none).
    python = papermill_translators.find_translator("python3", "python")
    found = {p.name: p._asdict() for p in python.inspect(cell)}
    rules = {}
    for name, line in lines.items():
        read = found.get(name)
        try:
            if read is None:
                raise RuleError(
                    "papermill cannot read this line; write `name: type = value  # ...`"
                )
            default = ast.literal_eval(read["default"])
            rules[name] = parse(name, read["inferred_type_name"], default, read["help"])
        except (RuleError, ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as err:
            reason = (
                str(err)
                if isinstance(err, RuleError)
                else "the default is not a literal: write a number, a text or a list"
            )
            source = cell.source.splitlines()[line - 1].strip()
            raise ParameterError(
                f"{where}, line {line}: {_shown(source)}: {reason}; see the rules in "
                f"nnreg_keras/rules.py"
            ) from None
    return rules


def notebook_defaults(notebook_path: Path) -> dict[str, Any]:
    """The parameters cell of a notebook as {name: default value}, read without executing it."""
    return {name: rule.default for name, rule in notebook_parameters(notebook_path).items()}


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
