"""Parameter profiles and notebooks' parameters cells, read without executing anything.

A profile (`params/<name>.yaml`) maps notebook stems to parameter values; a notebook's `parameters`
cell gives each parameter its default, its annotation and, for `Literal[...]`, its accepted values.
The values themselves are checked by `nnreg_keras.rules`.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.rules import Parameter


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
    (`a: int = 1`, `m: Literal["loss", "accuracy"] = "loss"`) lines."""
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ParameterError(f"notebook {Path(notebook_path).name}: no cell tagged 'parameters'")
    found: dict[str, Parameter] = {}
    for node in ast.parse(cells[0].source).body:
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
    return found


def notebook_defaults(notebook_path: Path) -> dict[str, Any]:
    """The parameters cell of a notebook as {name: default value}, read without executing it."""
    return {name: p.default for name, p in notebook_parameters(notebook_path).items()}


def load_profile(
    path: Path, notebook_stems: list[str], absent: Collection[str] = ()
) -> dict[str, dict[str, Any]]:
    """Read a profile: {notebook stem: {parameter: value}}. Every stem must name a notebook, or one
    of the `absent` notebooks, whose sections are left out."""
    path = Path(path)
    if not path.is_file():
        available = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ParameterError(
            f"profile file {path} does not exist; available profiles: "
            f"{', '.join(available) or 'none'}"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParameterError(f"profile file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ParameterError(f"profile file {path} must map notebook names to parameter mappings")
    data = {stem: values for stem, values in data.items() if stem not in absent}
    unknown = sorted(set(data) - set(notebook_stems))
    if unknown:
        raise ParameterError(
            f"profile file {path} names notebooks that do not exist: "
            f"{', '.join(unknown)}; notebooks: {', '.join(notebook_stems)}"
        )
    return data
