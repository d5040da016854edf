"""The results contract: what a tutorial notebook hands to the report, written and read as JSON.

A notebook builds a `Recorder` and, as it goes, adds tables and figures (each also shown inline in
the notebook, where it is made), claims (an expected finding, whether it held, worded both ways
from the measured values) and metrics; it ends with the verdict (the short answer, at most
`VERDICT_WORDS` words) and `write()`. The runner tells it where to write through the
environment (`NNREG_OUTPUT_DIR`, `NNREG_NOTEBOOK`, `NNREG_PROFILE`); run by hand, a notebook writes
into a fresh temporary directory and prints where. The file holds measured values only, no clock
times, so the same profile and seed give the same bytes; run times come from papermill's metadata.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from nnreg_keras import show
from nnreg_keras.exceptions import ResultsError

SCHEMA_VERSION = 2
VERDICT_WORDS = 60
PACKAGES = ("keras", "tensorflow", "numpy", "papermill", "matplotlib", "jinja2", "scipy")
# The exact versions `make` installed, beside the package in a source checkout (absent from a wheel).
LOCK_FILE = Path(__file__).resolve().parent.parent / "requirements.lock"


def plain(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and nested containers as plain JSON values."""
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _too_long(label: str, statement: dict[str, Any]) -> list[str]:
    """A verdict's wordings longer than VERDICT_WORDS words."""
    return [
        f"{label}: {key!r} has {len(statement[key].split())} words; at most {VERDICT_WORDS} are accepted"
        for key in ("text", "alternative")
        if len(statement[key].split()) > VERDICT_WORDS
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


def validate(results: dict[str, Any], source: str = "results") -> dict[str, Any]:
    """Raise ResultsError listing every way `results` breaks the contract; return it unchanged.

    The contract is `results.schema.json`; beyond what a schema can say, metrics and numbers must be
    finite and the verdict has at most VERDICT_WORDS words."""
    import jsonschema

    if not isinstance(results, dict):
        raise ResultsError(f"{source}: expected a JSON object, got {type(results).__name__}")
    problems = []
    if results.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(
            f"schema_version is {results['schema_version']}, this package reads {SCHEMA_VERSION}"
        )
        results = {**results, "schema_version": SCHEMA_VERSION}  # list the other problems too
    validator = jsonschema.Draft202012Validator(schema())
    problems += [
        f"{_where(e.absolute_path)}: {e.message}"
        for e in sorted(
            validator.iter_errors(results), key=lambda e: list(map(str, e.absolute_path))
        )
    ]
    for i, table in enumerate(results.get("tables") or []):
        if (
            isinstance(table, dict)
            and isinstance(table.get("columns"), list)
            and isinstance(table.get("rows"), list)
        ):
            if any(isinstance(r, list) and len(r) != len(table["columns"]) for r in table["rows"]):
                problems.append(
                    f"tables[{i}] ({table.get('caption')!r}): every row needs "
                    f"{len(table['columns'])} cells"
                )
    if not problems:
        statements = [("verdict", results["verdict"])] + [
            (f"claim {c['name']!r}", c) for c in results["claims"]
        ]
        problems += _too_long("verdict", results["verdict"])
        numbers = [(f"metric {k!r}", v) for k, v in results["metrics"].items()] + [
            (f"{label}: number {k!r}", v)
            for label, st in statements
            for k, v in st["numbers"].items()
        ]
        problems += [
            f"{label} must be a finite number, got {v!r}"
            for label, v in numbers
            if isinstance(v, float) and not math.isfinite(v)
        ]
    if problems:
        raise ResultsError(f"{source} breaks the results contract:\n  " + "\n  ".join(problems))
    return results


def read(path: Path) -> dict[str, Any]:
    """Load and validate one results file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(f"results file {path} cannot be read: {err}") from None
    return validate(data, source=f"results file {path}")


def lock_sha256(path: Path = LOCK_FILE) -> str:
    """The sha256 of the lock file the environment was installed from, or "unknown" without one."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"


def environment() -> dict[str, Any]:
    """Backend, Python and package versions, the lock file's hash and the git commit of the working
    directory."""
    import keras

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "keras_backend": keras.backend.backend(),
        "python": platform.python_version(),
        "packages": packages,
        "lock_sha256": lock_sha256(),
        "git_commit": commit,
    }


class Recorder:
    """Collects one notebook's results, shows each piece inline as it is added, and writes them,
    validated, as the results JSON."""

    def __init__(
        self,
        notebook: str,
        title: str,
        questions: list[str],
        parameters: dict[str, Any],
        seeds: list[int],
    ):
        self.notebook = os.environ.get("NNREG_NOTEBOOK", notebook)
        env_dir = os.environ.get("NNREG_OUTPUT_DIR")
        self.output_dir = Path(env_dir) if env_dir else Path(tempfile.mkdtemp(prefix="nnreg_"))
        self.data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "notebook": self.notebook,
            "title": title,
            "questions": list(questions),
            "verdict": None,
            "claims": [],
            "tables": [],
            "figures": [],
            "metrics": {},
            "parameters": plain(parameters),
            "seeds": plain(seeds),
            "profile": os.environ.get("NNREG_PROFILE", "interactive"),
        }

    @property
    def results_path(self) -> Path:
        return self.output_dir / "results" / f"{self.notebook}.json"

    def add_metrics(self, **metrics: float) -> None:
        """Named scalar measurements, kept for tests and for anyone reading the JSON."""
        self.data["metrics"].update(plain(metrics))

    def add_table(
        self, caption: str, columns: list[str], rows: list[list[Any]], lead: bool = False
    ) -> None:
        """A table of measured values, shown inline now; numbers are written by `formatting.number`.
        A `lead` table is part of the answer: the report shows it right under the verdict."""
        table = {"caption": caption, "columns": list(columns), "rows": plain(rows)}
        if lead:
            table["lead"] = True
        if any(len(row) != len(table["columns"]) for row in table["rows"]):
            raise ResultsError(f"table {caption!r}: every row needs {len(columns)} cells")
        self.data["tables"].append(table)
        show.table(table, number=len(self.data["tables"]))

    def add_figure(
        self,
        fig: Any,
        name: str,
        caption: str,
        alt: str,
        fmt: str = "svg",
        group: str | None = None,
        frame: str | None = None,
    ) -> None:
        """Save a matplotlib figure (deterministic bytes), list it with caption and alt text, show
        the saved file inline and close the figure (so it is shown exactly once). Consecutive
        figures with the same `group` are the frames of one explorable figure, each labelled `frame`."""
        if fmt not in ("svg", "png"):
            raise ValueError(f"fmt must be 'svg' or 'png', got {fmt!r}")
        relative = Path("figures") / self.notebook / f"{name}.{fmt}"
        path = self.output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        import matplotlib
        import matplotlib.pyplot as plt

        with matplotlib.rc_context(
            {"svg.hashsalt": "nnreg_keras"}
        ):  # stable ids: same bytes each run
            fig.savefig(path, format=fmt, metadata=meta, bbox_inches="tight", dpi=110)
        plt.close(fig)
        entry = {"file": relative.as_posix(), "caption": caption, "alt": alt}
        if group is not None:
            entry.update(group=group, frame=frame or name)
        self.data["figures"].append(entry)
        show.figure(path, caption, alt, number=len(self.data["figures"]))

    def claim(self, name: str, held: Any, text: str, alternative: str, **numbers: Any) -> None:
        """Record an expected finding: `text` words it if it held, `alternative` if not. Both are
        `str.format` templates, formatted with `numbers` on every run (a broken wording fails every
        run, not only the one that needs it); the applicable one is shown inline. Nothing is
        returned, so a cell that ends with a claim shows the finding and no bare value."""
        statement = self._statement(f"claim {name!r}", held, text, alternative, numbers)
        self.data["claims"] = [c for c in self.data["claims"] if c["name"] != name] + [
            {"name": name, **statement}
        ]
        self.data["metrics"][f"claim_{name}"] = int(statement["held"])
        show.statement(statement, kind="finding")

    def verdict(self, held: Any, text: str, alternative: str, **numbers: Any) -> None:
        """The short answer to the thread's question (at most VERDICT_WORDS words either way),
        formatted like a claim: `text` if the expected answer held, `alternative` if not."""
        statement = self._statement("verdict", held, text, alternative, numbers)
        problems = _too_long("verdict", statement)
        if problems:
            raise ResultsError("; ".join(problems))
        self.data["verdict"] = statement
        show.statement(statement, kind="verdict")

    @staticmethod
    def _statement(
        label: str, held: Any, text: str, alternative: str, numbers: dict[str, Any]
    ) -> dict[str, Any]:
        numbers = plain(numbers)
        try:
            worded = {"text": text.format(**numbers), "alternative": alternative.format(**numbers)}
        except (KeyError, IndexError, ValueError, TypeError) as err:
            raise ResultsError(
                f"{label}: a wording cannot be formatted with the numbers given "
                f"({type(err).__name__}: {err}); numbers: {', '.join(numbers) or 'none'}"
            ) from None
        return {"held": bool(held), **worded, "numbers": numbers}

    def write(self) -> None:
        """Validate and write the results JSON to `results_path` (printed when run by hand)."""
        if self.data["verdict"] is None:
            raise ResultsError(
                f"results of {self.notebook}: no verdict; call Recorder.verdict(...) before write()"
            )
        self.data["environment"] = environment()
        validate(self.data, source=f"results of {self.notebook}")
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        self.results_path.write_text(text + "\n")
        if not os.environ.get("NNREG_OUTPUT_DIR"):
            print(f"results written to {self.results_path}")
