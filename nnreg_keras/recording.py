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
import re
import subprocess
import sys
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


_progress: list[Any] = [None, None]  # the progress file's path and its open handle


def note_progress(model: str, step: int, first: bool) -> None:
    """Note one record of `model` at `step` (`first`: the first record of a new model) in the file
    the runner names in NNREG_PROGRESS, which it reads to draw its progress line.

    The file stays open between records (a training loop notes thousands of them: opening it for
    each took most of the time), line-buffered, so each line reaches the runner as it is written;
    it is opened again when NNREG_PROGRESS names another file, or when the file was removed."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    known, out = _progress
    if known != path or out.closed or not os.path.exists(path):
        if out is not None:
            out.close()
        out = open(path, "a", encoding="utf-8", buffering=1)
        _progress[:] = [path, out]
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


def _display(bundle: dict[str, str], display_id: str | None = None, update: bool = False) -> None:
    """Show a bundle of representations inline when running in IPython; nothing elsewhere. With
    `update`, replace what was shown under `display_id` instead (wherever it is in the notebook)."""
    try:
        from IPython import get_ipython
        from IPython.display import display, update_display
    except ImportError:
        return
    if get_ipython() is None:
        return
    if update:
        update_display(bundle, raw=True, display_id=display_id)
    elif display_id is not None:
        display(bundle, raw=True, display_id=display_id)
    else:
        display(bundle, raw=True)


# The short answer (verdict): plain words a program can check.
# A number is a numeral standing as a word of its own: digits, with optional thousands separators
# ("17,025"), decimals ("0.5", ".5"), exponent ("1e-3"), sign ("+3.4", "−0.58") and a trailing %.
# Digits touching a letter, an underscore or a decimal point ("L2", "x_1", "float32", "3D", "v1.2")
# belong to a name, and a zero-led integer ("01", "007") is a label (a lesson, a seed), not a
# quantity. Joined by a dash, "1-4" is two numbers.
NUMBER = re.compile(
    r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+−]?\d+)?%?(?![\w])"
    r"|(?<![\w.])[-+−]?\.\d+%?(?![\w])"
)
LABEL = re.compile(r"[-+−]?0\d+")  # a zero-led integer: a lesson or seed label, not a quantity
_NUM = r"[-+−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?"
# Interval notation: ±, the words "interval" and "CI", and two numbers bracketed together
# ("(−0.82 to −0.34)", "[0.1, 0.3]", "(… +1.75 to +5.15)").
INTERVAL = re.compile(
    rf"±|\binterval|\bCI\b|[\[(]\s*{_NUM}\s*(?:,|;|to|–|—|\.\.)\s*{_NUM}\s*[\])]"
    rf"|(?<![\w.]){_NUM}\s*(?:to|–|—|\.\.)\s*{_NUM}\s*[\])]",
    re.IGNORECASE,
)
FORBIDDEN = {  # words of notation, not of the answer
    re.compile(r"\bkeep(?:[_-]|\s)?prob\b", re.IGNORECASE): "keep_prob (say the dropout rate)",
    re.compile(r"\bshare[\s-]+points?\b", re.IGNORECASE): '"share points"',
}
VERDICT_NUMBERS = 2


def numbers_in(text: str) -> list[str]:
    """The numbers of a text, as `NUMBER` and `LABEL` define them (names and labels left out)."""
    return [m.group() for m in NUMBER.finditer(text) if not LABEL.fullmatch(m.group())]


def verdict_problems(text: str) -> list[str]:
    """Why a short answer breaks the plain-words rules: more than two numbers, interval notation,
    keep_prob or "share points" (intervals and statuses stay in the findings), or too many words."""
    from nnreg_keras.pipeline.contract import too_long

    problems = too_long("the verdict", {"text": text})
    found = numbers_in(text)
    if len(found) > VERDICT_NUMBERS:
        problems.append(
            f"the verdict has {len(found)} numbers ({', '.join(found)}); at most "
            f"{VERDICT_NUMBERS} are accepted, each with its unit"
        )
    notation = INTERVAL.search(text)
    if notation:
        problems.append(
            f"the verdict has interval notation ({notation.group()!r}); intervals stay in the "
            "findings"
        )
    problems += [
        f"the verdict says {what}" for rule, what in FORBIDDEN.items() if rule.search(text)
    ]
    return problems


def lock_sha256(path: Path = LOCK_FILE) -> str:
    """The sha256 of the lock file the environment was installed from, or "unknown" without one."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"


NO_KERAS = "none (Keras not imported)"


def provenance() -> dict[str, Any]:
    """Backend, Python and package versions, the lock file's hash and the git commit of the working
    directory. The backend is that of the Keras the notebook imported: a notebook that trains in
    numpy alone never imports Keras, and writing its results does not either (4 s with
    TensorFlow)."""
    keras = sys.modules.get("keras")
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
        "keras_backend": keras.backend.backend() if keras is not None else NO_KERAS,
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
        parameters: dict[str, Any] | None = None,
        seeds: list[int] | None = None,
        output_dir: str | Path | None = None,
    ):
        """`output_dir` (or NNREG_OUTPUT_DIR, which the runner sets) is where `write()` and
        `add_figure` save; without either, nothing is saved (a notebook run by hand).

        `parameters` and `seeds` are optional: the runner keeps the exact parameters of a run in its
        `run.json`. Given, they are kept in the results too; without `seeds`, the seeds are those of
        `parameters["seeds"]` when it has them, else the results record none (each comparison keeps
        how many seeds it was decided on)."""
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
            "comparisons": 0,  # how many comparisons the p-values are adjusted over
            "tables": [],
            "figures": [],
            "metrics": {},
            "profile": os.environ.get(PROFILE_ENV, "interactive"),
        }
        if parameters is not None:
            self.data["parameters"] = plain(parameters)
        if seeds is None and isinstance(self.data.get("parameters", {}).get("seeds"), list):
            seeds = self.data["parameters"]["seeds"]
        if seeds is not None:
            self.data["seeds"] = plain(seeds)
        self._figure_number = 0  # figures shown so far; the frames of one group share a number
        self._comparisons: dict[str, stats.Comparison] = {}  # by claim name, in the order recorded
        self._texts: dict[str, tuple[str, str]] = {}  # claim name -> (expected, note)
        self._verdict_read: dict[
            str, str
        ] = {}  # the statuses there were when the verdict was given
        self._shown: dict[str, str] = {}  # claim name -> the display id its finding was shown under

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
        in_report: bool = True,
    ) -> None:
        """Save a matplotlib figure (deterministic bytes), list it with caption and alt text, show
        the saved file inline and close the figure (so it is shown exactly once). Consecutive
        figures with the same `group` are the frames of one explorable figure, each labelled `frame`;
        a frame with `in_report=False` is shown here and on the notebook's page, not in the report
        (which says how many frames it left out, and where they are).
        Without an output directory the figure is drawn in memory and shown, not saved."""
        if fmt not in ("svg", "png"):
            raise ValueError(f"fmt must be 'svg' or 'png', got {fmt!r}")
        if not in_report and group is None:
            raise ValueError(
                "in_report=False leaves a frame of a group out of the report; "
                f"figure {name!r} has no group"
            )
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
            if not in_report:
                entry["in_report"] = False
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
        *args: Any,
        a: Any = None,
        b: Any = None,
        expect: str | None = None,
        margin: float | None = None,
        scale: float | None = None,
        unit: str | None = None,
        note: str = "",
        points: bool = False,
        expected: str | None = None,
    ) -> stats.Comparison:
        """Record a claim decided on paired per-seed values and show it; return the comparison.

            rec.compare(name, a, b, expect="higher", margin=None, points=False, note="")
            rec.compare(name, expected, a, b, expect, margin, scale, unit, note)   # the long form

        `a` and `b` hold one value per seed for each setting, trained on the same seeds. `expect` is
        'higher' (a above b, the default), 'lower', or 'equal' (within ±`margin`, named beforehand;
        a margin alone implies 'equal'). `points=True` writes accuracies as points (scale 100);
        otherwise `scale` and `unit` say how to write the difference. `expected` is the claim in
        a few words ("Dropout leaves more outputs at zero"); without it, `name` with spaces
        ("dropout_sparser" -> "Dropout sparser"): the notebook's "what we expect" says it in full.
        `note` adds one measured sentence (an f-string).

        The status comes from `stats.paired` and the false discovery rate over all of this
        notebook's comparisons: recording one more adjusts every earlier one anew, and the
        returned objects (and the findings already shown) are updated in place, so statuses read
        after the last comparison, as a verdict does, are final."""
        if args and isinstance(args[0], str):
            if expected is not None:
                raise TypeError("compare() got the expected text twice")
            expected, *args = args
        keys = ("a", "b", "expect", "margin", "scale", "unit", "note")
        if len(args) > len(keys):
            raise TypeError(f"compare() takes at most {len(keys) + 2} positional arguments")
        values = dict(zip(keys, args, strict=False))
        given = {"a": a, "b": b, "expect": expect, "margin": margin, "scale": scale, "unit": unit}
        for key, value in given.items():
            if value is not None and values.get(key) is not None:
                raise TypeError(f"compare() got {key} twice")
            if value is not None:
                values[key] = value
        if values.get("a") is None or values.get("b") is None:
            raise TypeError(
                "compare(name, [expected,] a, b, ...) takes a and b, one value per seed"
            )
        margin = values.get("margin")
        expect = values.get("expect") or ("equal" if margin is not None else "higher")
        scale = values.get("scale") or (100.0 if points else 1.0)
        unit = values.get("unit") or ("points" if points else "")
        note = values.get("note") or note
        comparison = stats.paired(values["a"], values["b"], expect, margin, scale, unit)
        self._comparisons.pop(name, None)
        self._comparisons[name] = comparison
        self._texts[name] = (expected or name.replace("_", " ").capitalize(), note)
        before = {n: (c.status, c.p_adjusted) for n, c in self._comparisons.items()}
        stats.adjust(list(self._comparisons.values()))
        self.data["comparisons"] = sum(c.p is not None for c in self._comparisons.values())
        for other, c in self._comparisons.items():
            if other != name and before[other] != (c.status, c.p_adjusted):
                self._add_claim(self._comparison_claim(other), update=True)
        self._add_claim(self._comparison_claim(name))
        return comparison

    def _comparison_claim(self, name: str) -> dict[str, Any]:
        """A comparison as the results keep it: status, sentence and numbers."""
        comparison, (expected, note) = self._comparisons[name], self._texts[name]
        return {
            "name": name,
            "status": comparison.status,
            "expected": expected,
            "text": f"{expected}: {comparison.measured()}." + (f" {note}" if note else ""),
            **plain(comparison.as_record()),
        }

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

    def _add_claim(self, claim: dict[str, Any], update: bool = False) -> None:
        """Add a claim (replacing one of the same name) and show it; with `update`, replace it where
        it stands and update the finding already shown."""
        claims = self.data["claims"]
        if update:
            claims[:] = [claim if c["name"] == claim["name"] else c for c in claims]
            if claim["name"] in self._shown:
                self._show(claim, "finding", self._shown[claim["name"]], update=True)
            return
        claims[:] = [c for c in claims if c["name"] != claim["name"]]
        claims.append(claim)
        self._shown[claim["name"]] = shown = f"{self.notebook}/{claim['name']}/{len(claims)}"
        self._show(claim, "finding", shown)

    def verdict(self, text: str) -> None:
        """The short answer to the thread's question, written as one f-string from the findings'
        final statuses (an inconclusive answer is said plainly), after the last comparison. Plain
        words: at most VERDICT_WORDS words and two numbers, no interval notation, no keep_prob and
        no "share points" (`verdict_problems`); ResultsError otherwise."""
        problems = verdict_problems(text)
        if problems:
            raise ResultsError(f"verdict {text!r}: " + "; ".join(problems))
        statement = {"text": text}
        self.data["verdict"] = statement
        self._verdict_read = {n: c.status for n, c in self._comparisons.items()}
        self._show(statement, "verdict")
        count = self.data["comparisons"]
        if count:
            _display(
                {
                    "text/html": render.comparisons_html(count),
                    "text/plain": render.comparisons_text(count),
                }
            )

    @staticmethod
    def _show(
        statement: dict[str, Any], kind: str, display_id: str | None = None, update: bool = False
    ) -> None:
        _display(
            {
                "text/html": render.statement_html(statement, kind),
                "text/plain": render.statement_text(statement, kind),
            },
            display_id,
            update,
        )

    def write(self) -> None:
        """Validate the results and write them as JSON to `results_path`; run by hand, without an
        output directory, only validate them (a broken contract fails here as in a real run)."""
        if self.data["verdict"] is None:
            raise ResultsError(
                f"results of {self.notebook}: no verdict; call Recorder.verdict(...) before write()"
            )
        changed = [
            f"{name!r} ({status} when the verdict was given, {self._comparisons[name].status} now)"
            for name, status in self._verdict_read.items()
            if name in self._comparisons and self._comparisons[name].status != status
        ]
        if changed:
            raise ResultsError(
                f"results of {self.notebook}: comparisons recorded after the verdict changed the "
                f"status of {', '.join(changed)}; record every comparison, then the verdict"
            )
        from nnreg_keras.pipeline.contract import validate

        self.data["environment"] = provenance()
        validate(self.data, source=f"results of {self.notebook}")
        text = json.dumps(self.data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        if self.results_path is not None:
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            self.results_path.write_text(text + "\n")
