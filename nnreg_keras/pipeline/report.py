"""Builds `reports/index.html` from the results JSON files alone: one self-contained page.

No per-tutorial code lives here: every section comes from one results file, so a new notebook that
writes valid results appears in the report by itself. Figures are inlined (SVG as markup, PNG as
base64), styles and the few lines of script are inline, nothing is fetched from the network. Each
section links the files its run landed (notebook, results, figures) by paths relative to the page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from nnreg_keras import render
from nnreg_keras.exceptions import ResultsError, UsageError
from nnreg_keras.pipeline import landing, sanitize
from nnreg_keras.pipeline.landing import RUNS, lock, read_stamp, write_text
from nnreg_keras.pipeline.shipped import TEMPLATES


def inline_figure(path: Path, alt: str) -> Markup:
    """A figure file as markup to embed (`render.figure_markup`); a missing file names its fix."""
    if not path.is_file():
        raise ResultsError(f"figure file {path} is missing; rerun the notebook that lists it")
    return Markup(sanitize.fragment(render.figure_markup(path, alt)))  # an SVG runs nothing


def figure_blocks(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures in order, with consecutive figures of one `group` gathered into one block: the
    frames of an explorable figure. A figure without a group is a block of one frame."""
    blocks: list[dict[str, Any]] = []
    for fig in figures:
        group = fig.get("group")
        if group and blocks and blocks[-1]["group"] == group:
            blocks[-1]["frames"].append(fig)
        else:
            blocks.append({"group": group, "frames": [fig]})
    return blocks


def run_info(notebook: Path) -> dict[str, Any]:
    """Start time and duration that papermill recorded in the executed notebook, if present."""
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, json.JSONDecodeError):
        meta = {}
    return {"start_time": meta.get("start_time"), "duration": meta.get("duration")}


def rerun_command(results: dict[str, Any], stamp: dict[str, Any] | None) -> str:
    """The command that reproduces a run: its notebook, profile and every one-off override."""
    overrides = (stamp or {}).get("overrides", {})
    return " ".join(
        [
            landing.run_command(results["notebook"], results["profile"]),
            *(f"-p {k} {shlex.quote(json.dumps(v))}" for k, v in sorted(overrides.items())),
        ]
    )


def _without_heading(markdown_text: str) -> str:
    """The exercises cell without its own heading line ("## Try it"): the report gives its own."""
    lines = markdown_text.strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip()


def anchor(stem: str) -> str:
    """The id of a notebook's section in the report: its file stem in lower case, words joined by -."""
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")


def landed_file(reports: Path, relative: str) -> str | None:
    """A file of a run's directory as a link from the report's page, or None when it is absent."""
    return f"{RUNS}/{reports.name}/{relative}" if (reports / relative).is_file() else None


def section(results: dict[str, Any], reports: Path) -> dict[str, Any]:
    """Everything the template needs for one tutorial's section; `reports` is the run's directory."""
    stem = results["notebook"]
    notebook = reports / "notebooks" / f"{stem}.ipynb"
    figures = [
        {
            **fig,
            "markup": inline_figure(reports / fig["file"], fig["alt"]),
            "href": landed_file(reports, fig["file"]),
        }
        for fig in results["figures"]
    ]
    verdict = results["verdict"]
    stamp = read_stamp(reports)
    return {
        **results,
        "anchor": anchor(stem),
        "figures": figures,
        "figure_blocks": figure_blocks(figures),
        "numbered_tables": [(i, t) for i, t in enumerate(results["tables"], start=1)],
        "verdict_text": verdict["text"],
        "exercises": _without_heading(
            (stamp or {}).get("exercises") or results.get("exercises", "")
        ),
        "notebook_link": landed_file(reports, f"notebooks/{stem}.html"),
        "notebook_file": landed_file(reports, f"notebooks/{stem}.ipynb"),
        "results_file": landed_file(reports, f"results/{stem}.json"),
        "run": run_info(notebook),
        "overrides": (stamp or {}).get("overrides", {}),
        "parameters": (stamp or {}).get("parameters", results["parameters"]),  # exactly as run
        "command": rerun_command(results, stamp),
    }


_PLAIN_TOKEN = re.compile(r'<span class="(?:n|p|w)">([^<]*)</span>')


def plain_tokens(highlighted: str) -> str:
    """Highlighted code with names, punctuation and white space as plain text: they are drawn in
    the text's own colour, and a page of code keeps about half its elements."""
    return _PLAIN_TOKEN.sub(r"\1", highlighted)


def markdown(text: str) -> Markup:
    """Markdown (a notebook's exercises cell) as HTML that runs and fetches nothing: raw HTML in it
    is escaped, not passed through, and an image becomes a link to it (the page works offline)."""
    import mistune

    class Offline(mistune.HTMLRenderer):
        def image(self, text: str, url: str, title: str | None = None) -> str:
            return self.link(text or html.escape(url), url, title)

    rendered = mistune.create_markdown(renderer=Offline(escape=True))(text)
    return Markup(sanitize.fragment(rendered))


def _markup(function: Any) -> Any:
    """A renderer function as a Jinja global: its HTML is already escaped, so it is Markup."""
    return lambda *args, **kwargs: Markup(function(*args, **kwargs))


def jinja_environment() -> jinja2.Environment:
    """Jinja2 with autoescaping on for every template, whatever its file name."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.globals.update(
        table=_markup(render.table_html),
        figure=_markup(render.figure_html),
        figure_caption=render.figure_caption,
        figure_links=_markup(render.figure_links),
        finding=_markup(render.finding_html),
        status_class=render.status_class,
    )
    return env


def build(reports: Path = Path("reports")) -> Path:
    """Render reports/index.html from reports/runs/*/, each run checked whole first
    (`landing.check_run`: a damaged run names the command that repairs it); write it in one step.
    A reports directory holding files this package did not write is refused, and what killed
    runs left is undone first."""
    reports = Path(reports)
    if not reports.exists() and not reports.is_symlink():
        raise UsageError(
            f"no report in {reports} ({reports.absolute()} does not exist); build it from the "
            f"project's directory, or give --reports DIR; a new report starts with `make report` "
            f"or `nnreg-keras run`"
        )
    landing.check_reports(reports)
    no_runs = UsageError(
        f"no runs in {reports / RUNS} ({reports.absolute()}): run the notebooks first "
        f"(`make report`, or `nnreg-keras run`), or give --reports DIR of a report"
    )
    if not any((reports / RUNS).glob("*")):
        raise no_runs  # and nothing is written there, not even a lock
    with lock(reports, "index"):
        landing.recover(reports, holding_index=True)
        with lock(reports, "landing", shared=True):
            runs = sorted(p for p in (reports / RUNS).glob("*") if not p.name.startswith("."))
            if not runs:
                raise no_runs
            sections = [section(landing.check_run(run)[0], run) for run in runs]
            by_anchor = {s["anchor"]: s for s in sections}
            for run, found in zip(runs, sections, strict=True):  # a one-off beside its baseline
                if run.name.endswith(landing.ONE_OFF):
                    base = by_anchor.get(found["anchor"], {})
                    statuses = {c["name"]: c["status"] for c in base.get("claims", [])}
                    found.update(
                        anchor=anchor(run.name),
                        baseline=found["anchor"],
                        compared=[
                            {
                                "name": c["name"],
                                "baseline": statuses.get(c["name"]),
                                "one_off": c["status"],
                            }
                            for c in found["claims"]
                        ],
                    )
            html_text = (
                jinja_environment()
                .get_template("report.html.j2")
                .render(
                    sections=sections,
                    generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                )
            )
            return write_text(reports / "index.html", html_text)
