"""The results contract: what a tutorial notebook hands to the report, written and read as JSON.

A notebook builds a `Recorder`, adds tables, figures and metrics, sets the answer (sentences built
from measured values) and calls `write()`. The runner tells it where to write through the
environment (`NNREG_OUTPUT_DIR`, `NNREG_NOTEBOOK`, `NNREG_PROFILE`); run by hand, a notebook writes
into a fresh temporary directory and prints where. The file holds measured values only, no clock
times, so the same profile and seed give the same bytes; run times come from papermill's metadata.
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import ResultsError

SCHEMA_VERSION = 1
PACKAGES = ("keras", "tensorflow", "numpy", "papermill", "matplotlib", "jinja2", "scipy")
_REQUIRED = {
    "schema_version": int, "notebook": str, "title": str, "questions": list, "answer": list,
    "tables": list, "figures": list, "metrics": dict, "parameters": dict, "seeds": list,
    "profile": str, "environment": dict,
}


def plain(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and nested containers as plain JSON values."""
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def validate(results: dict[str, Any], source: str = "results") -> dict[str, Any]:
    """Raise ResultsError listing every way `results` breaks the contract; return it unchanged."""
    problems = []
    if not isinstance(results, dict):
        raise ResultsError(f"{source}: expected a JSON object, got {type(results).__name__}")
    for key, kind in _REQUIRED.items():
        if not isinstance(results.get(key), kind):
            problems.append(f"{key!r} must be a {kind.__name__}")
    if problems:
        raise ResultsError(f"{source} breaks the results contract:\n  " + "\n  ".join(problems))
    if results["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {results['schema_version']}, this package reads {SCHEMA_VERSION}")
    for key in ("questions", "answer"):
        if not results[key] or not all(isinstance(s, str) and s.strip() for s in results[key]):
            problems.append(f"{key!r} must be a non-empty list of non-empty strings")
    for i, table in enumerate(results["tables"]):
        columns = table.get("columns") if isinstance(table, dict) else None
        rows = table.get("rows") if isinstance(table, dict) else None
        if not (isinstance(columns, list) and isinstance(rows, list) and table.get("caption")):
            problems.append(f"table {i} needs 'caption', 'columns' and 'rows'")
        elif any(not isinstance(r, list) or len(r) != len(columns) for r in rows):
            problems.append(f"table {i} ({table['caption']!r}): every row needs {len(columns)} cells")
    for i, fig in enumerate(results["figures"]):
        if not isinstance(fig, dict) or not all(isinstance(fig.get(k), str) and fig[k] for k in ("file", "caption", "alt")):
            problems.append(f"figure {i} needs non-empty 'file', 'caption' and 'alt'")
    for name, value in results["metrics"].items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
            problems.append(f"metric {name!r} must be a finite number, got {value!r}")
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


def environment() -> dict[str, Any]:
    """Backend, Python and package versions, and the git commit of the working directory."""
    import keras

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"keras_backend": keras.backend.backend(), "python": platform.python_version(),
            "packages": packages, "git_commit": commit}


class Recorder:
    """Collects one notebook's results and writes them, validated, as the results JSON."""

    def __init__(self, notebook: str, title: str, questions: list[str],
                 parameters: dict[str, Any], seeds: list[int]):
        self.notebook = os.environ.get("NNREG_NOTEBOOK", notebook)
        env_dir = os.environ.get("NNREG_OUTPUT_DIR")
        self.output_dir = Path(env_dir) if env_dir else Path(tempfile.mkdtemp(prefix="nnreg_"))
        self.data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION, "notebook": self.notebook, "title": title,
            "questions": list(questions), "answer": [], "tables": [], "figures": [], "metrics": {},
            "parameters": plain(parameters), "seeds": plain(seeds),
            "profile": os.environ.get("NNREG_PROFILE", "interactive"),
        }

    @property
    def results_path(self) -> Path:
        return self.output_dir / "results" / f"{self.notebook}.json"

    def add_metrics(self, **metrics: float) -> None:
        """Named scalar measurements, kept for tests and for anyone reading the JSON."""
        self.data["metrics"].update(plain(metrics))

    def add_table(self, caption: str, columns: list[str], rows: list[list[Any]]) -> None:
        """A table of measured values; numbers are formatted by the report."""
        self.data["tables"].append({"caption": caption, "columns": list(columns), "rows": plain(rows)})

    def add_figure(self, fig: Any, name: str, caption: str, alt: str, fmt: str = "svg") -> Path:
        """Save a matplotlib figure (deterministic bytes) and list it with caption and alt text."""
        if fmt not in ("svg", "png"):
            raise ValueError(f"fmt must be 'svg' or 'png', got {fmt!r}")
        relative = Path("figures") / self.notebook / f"{name}.{fmt}"
        path = self.output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "nnreg_keras"}):  # stable ids: same bytes each run
            fig.savefig(path, format=fmt, metadata=meta, bbox_inches="tight", dpi=110)
        self.data["figures"].append({"file": relative.as_posix(), "caption": caption, "alt": alt})
        return path

    def set_answer(self, *sentences: str) -> None:
        """The short answer: paragraphs built by the notebook from this run's numbers."""
        self.data["answer"] = list(sentences)

    def write(self) -> Path:
        """Validate and write the results JSON; return its path."""
        self.data["environment"] = environment()
        validate(self.data, source=f"results of {self.notebook}")
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        self.results_path.write_text(text + "\n")
        if not os.environ.get("NNREG_OUTPUT_DIR"):
            print(f"results written to {self.results_path}")
        return self.results_path
