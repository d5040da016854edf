"""The bridge between a lesson and the pipeline: what a notebook records, and how far it has come.

A notebook builds a `Recorder` and, as it goes, adds tables and figures (each shown inline where it
is made, through `nnreg_keras.render`), claims (an expected finding and its status: `compare`
decides one on paired per-seed values, `check` records an exact measurement) and metrics; it ends
with the verdict (the short answer) and
`write()`, which validates the results against the contract (`nnreg_keras.pipeline.contract`, the
one pipeline module a lesson reaches, and only when it writes) and writes them as JSON. Training
loops call `note_progress` once per record. Both talk to the runner through environment variables
only: `NNREG_OUTPUT_DIR`, `NNREG_NOTEBOOK`, `NNREG_PROFILE` and `NNREG_PROGRESS`. Run by hand (in
Jupyter, Colab, or papermill alone), a notebook writes no file: figures are shown from memory and
`write()` checks the results against the contract without saving them; set `NNREG_OUTPUT_DIR` (or
pass `output_dir=`) to keep them. The results hold measured values only, no clock times, so the
same profile and seed give the same bytes.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from nnreg_keras import render, stats
from nnreg_keras.exceptions import ResultsError

OUTPUT_DIR_ENV, NOTEBOOK_ENV, PROFILE_ENV = "NNREG_OUTPUT_DIR", "NNREG_NOTEBOOK", "NNREG_PROFILE"
PROGRESS_ENV = "NNREG_PROGRESS"
PACKAGES = ("keras", "tensorflow", "numpy", "papermill", "matplotlib", "jinja2", "scipy")
# The exact versions `make` installed, beside the package in a source checkout (absent from a wheel).
LOCK_FILE = Path(__file__).resolve().parent.parent / "requirements.txt"


def note_progress(model: str, step: int, first: bool) -> None:
    """Note one record of `model` at `step` (`first`: the first record of a new model) in the file
    the runner names in NNREG_PROGRESS, which it reads to draw its progress line."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{int(first)}\t{step}\t{model}\n")


def plain(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and nested containers as plain JSON values."""
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _display(bundle: dict[str, str]) -> None:
    """Show a bundle of representations inline when running in IPython; nothing elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(bundle, raw=True)


def lock_sha256(path: Path = LOCK_FILE) -> str:
    """The sha256 of the lock file the environment was installed from, or "unknown" without one."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"


def provenance() -> dict[str, Any]:
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
        output_dir: str | Path | None = None,
    ):
        """`output_dir` (or NNREG_OUTPUT_DIR, which the runner sets) is where `write()` and
        `add_figure` save; without either, nothing is saved (a notebook run by hand)."""
        from nnreg_keras.pipeline.contract import SCHEMA_VERSION

        self.notebook = os.environ.get(NOTEBOOK_ENV, notebook)
        chosen = os.environ.get(OUTPUT_DIR_ENV) or output_dir
        self.output_dir: Path | None = Path(chosen) if chosen else None
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
            "profile": os.environ.get(PROFILE_ENV, "interactive"),
        }
        self._figure_number = 0  # figures shown so far; the frames of one group share a number

    @property
    def results_path(self) -> Path | None:
        """Where `write()` saves the results JSON; None when nothing is saved."""
        if self.output_dir is None:
            return None
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
        index = len(self.data["tables"])
        _display(
            {
                "text/html": render.table_html(table, index),
                "text/plain": render.table_text(table, index),
            }
        )

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
        figures with the same `group` are the frames of one explorable figure, each labelled `frame`.
        Without an output directory the figure is drawn in memory and shown, not saved."""
        if fmt not in ("svg", "png"):
            raise ValueError(f"fmt must be 'svg' or 'png', got {fmt!r}")
        import io

        import matplotlib
        import matplotlib.pyplot as plt

        from nnreg_keras.plots import fit_for_phone, rasterize_dense, smallest_text

        fit_for_phone(fig)  # its smallest text readable on a phone, in the page
        if fmt == "svg":
            rasterize_dense(fig)  # thousands of marks as one image: a light page, same picture

        relative = Path("figures") / self.notebook / f"{name}.{fmt}"
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        if fmt == "png" and smallest_text(fig):  # its text is pixels: the page reads its size here
            meta[render.SMALLEST_TEXT_KEY] = f"{smallest_text(fig):g}"
        drawn = io.BytesIO()
        with matplotlib.rc_context(
            {"svg.hashsalt": "nnreg_keras"}
        ):  # stable ids: same bytes each run
            fig.savefig(drawn, format=fmt, metadata=meta, bbox_inches="tight", dpi=110)
        plt.close(fig)
        if self.output_dir is not None:
            path = self.output_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(drawn.getvalue())
        entry = {"file": relative.as_posix(), "caption": caption, "alt": alt}
        if group is not None:
            entry.update(group=group, frame=frame or name)
        previous = self.data["figures"][-1] if self.data["figures"] else {}
        if group is None or previous.get("group") != group:
            self._figure_number += 1
        self.data["figures"].append(entry)
        label = render.figure_caption(caption, self._figure_number, entry.get("frame"))
        bundle = {
            "text/html": render.figure_html(
                render.figure_markup_data(drawn.getvalue(), fmt, alt), label
            ),
            "text/plain": label,
        }
        if fmt == "svg":  # for a Jupyter that shows an untrusted notebook's images, not its HTML
            bundle["image/svg+xml"] = drawn.getvalue().decode("utf-8")
        _display(bundle)

    def compare(
        self,
        name: str,
        expected: str,
        a: Any,
        b: Any,
        expect: str = "higher",
        margin: float | None = None,
        scale: float = 1.0,
        unit: str = "",
        note: str = "",
    ) -> stats.Comparison:
        """Record a claim decided on paired per-seed values and show it; return the comparison.

        `expected` is the claim as the notebook's "what we expect" states it, before any result
        ("wide + dropout scores higher than the best smaller network"); `a` and `b` hold one value
        per seed for each setting, trained on the same seeds. `expect` is 'higher' (a above b),
        'lower' or 'equal' (within ±`margin`, named beforehand). The status, the mean difference,
        its 95% interval and the seeds won come from `stats.paired`; `scale` and `unit` say how to
        write the difference (scale=100, unit="points" for accuracies); `note` adds one measured
        sentence (an f-string)."""
        comparison = stats.paired(a, b, expect, margin, scale, unit)
        measured = comparison.summary()
        if comparison.status == stats.INCONCLUSIVE and comparison.interval is not None:
            measured = f"not decided at {comparison.seeds} seeds: {measured}"
        claim = {
            "name": name,
            "status": comparison.status,
            "expected": expected,
            "text": f"{expected}: {measured}." + (f" {note}" if note else ""),
            **plain(comparison.as_record()),
        }
        self._add_claim(claim)
        return comparison

    def check(self, name: str, expected: str, held: Any, measured: str) -> None:
        """Record a claim about an exact measurement (a count, an identity to rounding, a
        threshold stated beforehand): it held or did not hold. `measured` is one f-string with the
        numbers. Nothing is returned, so a cell that ends with a check shows no bare value."""
        status = stats.HELD if bool(held) else stats.NOT_HELD
        self._add_claim(
            {
                "name": name,
                "status": status,
                "expected": expected,
                "text": f"{expected}: {measured}",
            }
        )

    def _add_claim(self, claim: dict[str, Any]) -> None:
        self.data["claims"] = [c for c in self.data["claims"] if c["name"] != claim["name"]]
        self.data["claims"].append(claim)
        self._show(claim, "finding")

    def verdict(self, text: str) -> None:
        """The short answer to the thread's question, at most VERDICT_WORDS words, written as one
        f-string from the conclusive findings (an inconclusive answer is said plainly)."""
        from nnreg_keras.pipeline.contract import too_long

        statement = {"text": text}
        problems = too_long("verdict", statement)
        if problems:
            raise ResultsError("; ".join(problems))
        self.data["verdict"] = statement
        self._show(statement, "verdict")

    @staticmethod
    def _show(statement: dict[str, Any], kind: str) -> None:
        _display(
            {
                "text/html": render.statement_html(statement, kind),
                "text/plain": render.statement_text(statement, kind),
            }
        )

    def write(self) -> None:
        """Validate the results and write them as JSON to `results_path`; run by hand, without an
        output directory, only validate them (a broken contract fails here as in a real run)."""
        if self.data["verdict"] is None:
            raise ResultsError(
                f"results of {self.notebook}: no verdict; call Recorder.verdict(...) before write()"
            )
        from nnreg_keras.pipeline.contract import validate

        self.data["environment"] = provenance()
        validate(self.data, source=f"results of {self.notebook}")
        text = json.dumps(self.data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        if self.results_path is not None:
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            self.results_path.write_text(text + "\n")
