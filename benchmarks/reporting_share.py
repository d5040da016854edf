"""How much of each notebook's code reports rather than computes.

Counted over the top-level statements of the code cells: a statement reports when it calls the
Recorder (a method of `rec`) or is a string template (a string or f-string on its own or assigned
to a name). Lines are the statement's non-blank lines that are not comments. The lessons keep the
reporting share at most a third of the code lines (`tests/test_layout.py` checks it).

    python benchmarks/reporting_share.py [tutorials/*.ipynb]
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

RECORDER = "rec"


def _is_template(node: ast.AST) -> bool:
    value = node.value if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
    return isinstance(value, ast.JoinedStr) or (
        isinstance(value, ast.Constant) and isinstance(value.value, str)
    )


def _calls_recorder(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == RECORDER
        for n in ast.walk(node)
    )


def _code_lines(source_lines: list[str], node: ast.stmt) -> int:
    lines = source_lines[node.lineno - 1 : node.end_lineno]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def share(notebook: Path) -> dict[str, float]:
    """Statements and code lines in all, and the reporting ones, of one notebook."""
    counts = {"statements": 0, "lines": 0, "reporting statements": 0, "reporting lines": 0}
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        )
        lines = source.splitlines()
        for node in ast.parse(source).body:
            n = _code_lines(lines, node)
            counts["statements"] += 1
            counts["lines"] += n
            if _calls_recorder(node) or _is_template(node):
                counts["reporting statements"] += 1
                counts["reporting lines"] += n
    counts["share of lines"] = counts["reporting lines"] / max(counts["lines"], 1)
    counts["share of statements"] = counts["reporting statements"] / max(counts["statements"], 1)
    return counts


def main(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted(Path("tutorials").glob("[0-9]*.ipynb"))
    print(f"{'notebook':40s} {'lines':>6s} {'reporting':>10s} {'share':>6s} {'statements':>11s}")
    for nb in notebooks:
        c = share(nb)
        print(
            f"{nb.stem:40s} {c['lines']:6d} {c['reporting lines']:10d} "
            f"{c['share of lines']:6.0%} {c['share of statements']:11.0%}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
