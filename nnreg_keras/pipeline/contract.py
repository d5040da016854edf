"""The results contract: what a notebook hands to the report, as a versioned JSON Schema.

`validate` checks a results mapping against `results.schema.json` and what a schema cannot say
(finite numbers, rows as long as their columns, a verdict of at most `VERDICT_WORDS` words); `load`
reads and validates one results file. The notebook writes the file through
`nnreg_keras.recording.Recorder`; the runner validates it again before it lands, and the report
validates it when it reads it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnreg_keras import stats
from nnreg_keras.exceptions import ResultsError
from nnreg_keras.pipeline.files import read_text

SCHEMA_VERSION = 3
VERDICT_WORDS = 60
PROBLEMS_SHOWN = 8  # a message lists at most this many of a file's problems
RESULTS_BYTES = 64 << 20  # a results file holds measured numbers, tables and short texts


def too_long(label: str, statement: dict[str, Any]) -> list[str]:
    """A verdict longer than VERDICT_WORDS words."""
    words = len(statement["text"].split())
    return [f"{label} has {words} words; at most {VERDICT_WORDS} are accepted"][
        : words > VERDICT_WORDS
    ]


def status_problems(claim: dict[str, Any]) -> list[str]:
    """A comparison whose status is not the one its intervals and adjusted p-value decide
    (`stats.claim_status`)."""
    if "expect" not in claim:
        return []
    decided = stats.claim_status(claim)
    if decided == claim["status"]:
        return []
    return [
        f"claim {claim['name']!r} is {claim['status']!r}, but its interval {claim.get('interval')} "
        f"and adjusted p-value {claim.get('p_adjusted')} decide {decided!r} (expected "
        f"{claim['expect']}, margin {claim.get('margin')})"
    ]


SCHEMA_PATH = Path(__file__).resolve().parent / "results.schema.json"


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The results contract as a JSON Schema (shipped with the package)."""
    return json.loads(SCHEMA_PATH.read_text())


def _where(path: Any) -> str:
    return (
        "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "the file"
    )


# jsonschema imports rfc3987_syntax when it is installed (Jupyter's packages bring it in) for its
# "iri" format, and that module builds a grammar as it is imported: 0.8 s of every process that
# loads jsonschema (the runner's through nbformat, a kernel's through `validate`). The contract
# checks no format.
IRI_FORMAT_MODULE = "rfc3987_syntax"


@contextlib.contextmanager
def jsonschema_without_iri() -> Iterator[None]:
    """While this runs, a first import of jsonschema leaves out its "iri" format check (it skips
    a module it cannot import); a process that has loaded jsonschema already keeps it whole, and
    the module can be imported again afterwards."""
    block = "jsonschema" not in sys.modules and IRI_FORMAT_MODULE not in sys.modules
    if block:
        sys.modules[IRI_FORMAT_MODULE] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if block and sys.modules.get(IRI_FORMAT_MODULE, ...) is None:
            del sys.modules[IRI_FORMAT_MODULE]


def validate(
    results: dict[str, Any], source: str = "results", fix: str | None = None
) -> dict[str, Any]:
    """Raise ResultsError listing the ways `results` breaks the contract (the first
    `PROBLEMS_SHOWN`, so the message fits a screen) and `fix`; return it unchanged.

    The contract is `results.schema.json`; beyond what a schema can say, metrics and numbers must be
    finite and the verdict has at most VERDICT_WORDS words."""
    with jsonschema_without_iri():
        import jsonschema

    fix = fix or f"its notebook writes it with nnreg_keras.recording.Recorder ({SCHEMA_PATH.name})"
    if not isinstance(results, dict):
        raise ResultsError(f"{source}: expected a JSON object, got {type(results).__name__}; {fix}")
    problems = []
    if results.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(
            f"schema_version is {results['schema_version']!r}, this package reads {SCHEMA_VERSION}"
        )
        results = {**results, "schema_version": SCHEMA_VERSION}  # list the other problems too
    validator = jsonschema.Draft202012Validator(schema())
    problems += [
        f"{_where(e.absolute_path)}: {_short(e.message)}"
        for e in sorted(
            validator.iter_errors(results), key=lambda e: list(map(str, e.absolute_path))
        )
    ]
    tables = results.get("tables")
    for i, table in enumerate(tables if isinstance(tables, list) else []):  # else a schema problem
        if (
            isinstance(table, dict)
            and isinstance(table.get("columns"), list)
            and isinstance(table.get("rows"), list)
        ):
            if any(isinstance(r, list) and len(r) != len(table["columns"]) for r in table["rows"]):
                problems.append(
                    f"tables[{i}] ({_short(repr(table.get('caption')))}): every row needs "
                    f"{len(table['columns'])} cells"
                )
    if not problems:
        statements = [("verdict", results["verdict"])] + [
            (f"claim {c['name']!r}", c) for c in results["claims"]
        ]
        problems += too_long("verdict", results["verdict"])
        numbers = [(f"metric {k!r}", v) for k, v in results["metrics"].items()] + [
            (f"{label}: number {k!r}", v)
            for label, st in statements
            for k, v in st.get("numbers", {}).items()
        ]
        problems += [p for c in results["claims"] for p in status_problems(c)]
        problems += [
            f"{label} must be a finite number, got {v!r}"
            for label, v in numbers
            if isinstance(v, float) and not math.isfinite(v)
        ]
    if problems:
        shown = [_short(p) for p in problems[:PROBLEMS_SHOWN]]
        if len(problems) > PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - PROBLEMS_SHOWN} more")
        raise ResultsError(
            f"{source} breaks the results contract:\n  " + "\n  ".join(shown) + f"\n{fix}"
        )
    return results


def _short(text: str, limit: int = 160) -> str:
    """One line of at most `limit` characters (a schema message quotes the whole bad value)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load(path: Path, fix: str | None = None) -> dict[str, Any]:
    """Load and validate one results file; ResultsError naming it and `fix` when it cannot be read
    (missing, not a file, too large, not UTF-8, not JSON) or breaks the contract."""
    path = Path(path)
    fix = fix or "rerun the notebook that writes it"
    text = read_text(path, "results file", ResultsError, fix, RESULTS_BYTES)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ResultsError(f"results file {path} is not valid JSON ({err}); {fix}") from None
    return validate(data, source=f"results file {path}", fix=fix)
