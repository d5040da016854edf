"""What every lesson notebook keeps (the lesson conventions), checked on the committed source:
the parameters cell with a rule on each line, plain Keras, one model.fit, one labelled fit_many,
nbgrader metadata, short findings and verdict, and the budgets a core lesson keeps."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from reporting_share import share  # noqa: E402

RULE = re.compile(
    r"; (in [\[(].*[\])]|one of .*|a file|each in [\[(].*[\])](; at least \d+)?(; distinct)?)$"
)
SOLUTION = {"grade": False, "locked": False, "schema_version": 3, "solution": True, "task": False}
CHECK = {"grade": True, "locked": True, "points": 1, "schema_version": 3, "solution": False}


def cells(notebook: Path) -> list:
    return nbformat.read(str(notebook), as_version=4).cells


def code_lines(source: str) -> list[str]:
    return [
        line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
    ]


def check_lesson(notebook: Path, core: bool) -> None:
    """Assert the conventions on one notebook; `core` lessons also keep the 150-line and 20%
    reporting budgets."""
    everything = cells(notebook)
    nn = notebook.name[:2]
    assert everything[0].cell_type == "markdown" and everything[0].source.startswith("# ")
    assert "\n> " in everything[0].source, "the thread's question, quoted"
    parameters = everything[1]
    assert parameters.metadata.get("tags") == ["parameters"]
    for line in parameters.source.splitlines():
        assert re.match(r"^\w+: [\w\[\]]+ = .+  # .+", line), line
        assert RULE.search(line), f"no rule at the end of: {line}"
    assert everything[2].source.startswith("## What we expect")
    code = [c.source for c in everything if c.cell_type == "code"]
    joined = "\n".join(code)
    assert re.search(r"^import keras$", joined, re.M)
    assert "check_parameters" not in joined and "from nnreg_keras.training import" not in joined
    assert joined.count("model.fit(") == 1 and "history.history" in joined
    assert joined.count("training.fit_many(") == 1
    assert "# The same full-batch training as model.fit above, for" in joined
    assert joined.count('masks="fast"') == 2, 'fit_many with masks="fast", and its comment'
    assert "BitsDropout" not in joined
    for source in code:
        assert max(map(len, source.splitlines())) <= 100
        assert len(code_lines(source)) < 30, source[:80]
    for k, cell in enumerate(c for c in everything if "### BEGIN SOLUTION" in c.source):
        assert cell.metadata["nbgrader"] == {**SOLUTION, "grade_id": f"{nn}_solution_{k + 1}"}
    checks = [c for c in everything if "check" in c.metadata.get("tags", [])]
    assert checks
    for k, cell in enumerate(checks):
        assert cell.metadata["nbgrader"] == {
            **CHECK,
            "task": False,
            "grade_id": f"{nn}_check_{k + 1}",
        }
    graded = [c for c in everything if "nbgrader" in c.metadata]
    assert len(graded) == len(checks) + sum("### BEGIN SOLUTION" in c.source for c in everything)
    verdict = next(c for c in everything if "rec.verdict(" in c.source)
    assert len(code_lines(verdict.source)) <= 7, "a verdict of at most 6 lines, then rec.write()"
    for cell in everything:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "compare",
                "check",
            ):
                assert node.end_lineno - node.lineno + 1 <= 3, ast.unparse(node)[:80]
    assert everything[-1].metadata.get("tags") == ["exercises"]
    assert len(re.findall(rf"`nnreg-keras run {nn}", everything[-1].source)) >= 3
    if core:
        counts = share(notebook)
        assert counts["lines"] <= 150, counts
        assert counts["reporting lines"] <= 0.2 * counts["lines"], counts


def decided_claims(
    results: dict, expected: dict[str, str], checks: tuple[str, ...] = ()
) -> dict[str, dict]:
    """The run's claims by name, after asserting that they are exactly `expected` (name: what each
    expects) and the `checks` (true or false, no interval), and that each expected claim's status is
    the one its interval decides; for the assertions that follow."""
    from nnreg_keras import stats

    found = {c["name"]: c for c in results["claims"]}
    assert set(found) == {*expected, *checks}
    for name, expect in expected.items():
        assert found[name]["expect"] == expect, name
        assert found[name]["status"] == stats.claim_status(found[name]), name
    return found
