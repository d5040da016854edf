"""Builds `reports/index.html` from the results JSON files alone: one self-contained page.

No per-tutorial code lives here: every section comes from one results file, so a new notebook that
writes valid results appears in the report by itself. Figures are inlined (SVG as markup, PNG as
base64), styles are inline, nothing is fetched from the network.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from nnreg_keras import results as results_mod
from nnreg_keras.show import STATUS, cell
from nnreg_keras.exceptions import ResultsError

TEMPLATES = Path(__file__).resolve().parent / "templates"


def inline_figure(path: Path, alt: str) -> Markup:
    """A figure file as markup to embed, labelled with `alt`: inline SVG, or PNG as a data URI."""
    if not path.is_file():
        raise ResultsError(f"figure file {path} is missing; rerun the notebook that lists it")
    if path.suffix == ".svg":
        svg = path.read_text()
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE
        return Markup('<div class="svg" role="img" aria-label="{}">{}</div>').format(alt, Markup(svg))
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Markup('<img src="data:image/png;base64,{}" alt="{}">').format(data, alt)


def run_info(notebook: Path) -> dict[str, Any]:
    """Start time and duration that papermill recorded in the executed notebook, if present."""
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, json.JSONDecodeError):
        meta = {}
    return {"start_time": meta.get("start_time"), "duration": meta.get("duration")}


def _without_heading(markdown_text: str) -> str:
    """The exercises cell without its own heading line ("## Try it"): the report gives its own."""
    lines = markdown_text.strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip()


def section(results: dict[str, Any], reports: Path) -> dict[str, Any]:
    """Everything the template needs for one tutorial's section."""
    stem = results["notebook"]
    notebook = reports / "notebooks" / f"{stem}.ipynb"
    anchor = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    figures = [{**fig, "markup": inline_figure(reports / fig["file"], fig["alt"])} for fig in results["figures"]]
    verdict = results["verdict"]
    return {**results, "anchor": anchor, "figures_inline": figures,
            "verdict_text": verdict["text"] if verdict["held"] else verdict["alternative"],
            "exercises": _without_heading(results.get("exercises", "")),
            "notebook_link": f"notebooks/{stem}.ipynb" if notebook.is_file() else None,
            "run": run_info(notebook),
            "command": f"python -m nnreg_keras run {stem.split('_')[0]} --profile {results['profile']}"}


def markdown(text: str) -> Markup:
    """Markdown (a notebook's exercises cell) as HTML; raw HTML in it is escaped, not passed through."""
    import mistune

    return Markup(mistune.create_markdown(escape=True)(text))


def environment() -> jinja2.Environment:
    """Jinja2 with autoescaping on for every template, whatever its file name."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["cell"] = cell
    env.filters["markdown"] = markdown
    env.globals["status"] = STATUS
    return env


def build(reports: Path = Path("reports")) -> Path:
    """Render reports/index.html from reports/results/*.json; write it atomically."""
    reports = Path(reports)
    files = sorted((reports / "results").glob("*.json"))
    if not files:
        raise ResultsError(f"no results files in {reports / 'results'}; run `make report` first")
    sections = [section(results_mod.read(f), reports) for f in files]
    html = environment().get_template("report.html.j2").render(
        sections=sections, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=reports)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    os.replace(tmp, reports / "index.html")
    return reports / "index.html"
