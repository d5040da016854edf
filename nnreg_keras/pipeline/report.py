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
from nnreg_keras.pipeline.landing import RUNS, lock, write_text
from nnreg_keras.pipeline.shipped import TEMPLATES


def inline_figure(path: Path, alt: str) -> Markup:
    """A figure file as markup to embed (`render.figure_markup`); a missing file names its fix."""
    if not path.is_file():
        raise ResultsError(f"figure file {path} is missing; rerun the notebook that lists it")
    return Markup(sanitize.fragment(render.figure_markup(path, alt)))  # an SVG runs nothing


def figure_blocks(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures in order, with consecutive figures of one `group` gathered into one block: the
    frames of an explorable figure. A figure without a group is a block of one frame. Frames
    recorded with `in_report: false` are counted in the block's `left_out`, not shown; a group
    that marks none of its frames for the report shows its first."""
    groups: list[list[dict[str, Any]]] = []
    for fig in figures:
        group = fig.get("group")
        if group and groups and groups[-1][0].get("group") == group:
            groups[-1].append(fig)
        else:
            groups.append([fig])
    blocks = []
    for frames in groups:
        shown = [f for f in frames if f.get("in_report", True)] or frames[:1]
        blocks.append(
            {"group": frames[0].get("group"), "frames": shown, "left_out": len(frames) - len(shown)}
        )
    return blocks


def rerun_command(results: dict[str, Any], stamp: dict[str, Any]) -> str:
    """The command that reproduces a run: its notebook, profile and every one-off override."""
    overrides = stamp["overrides"]
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


def section(checked: landing.CheckedRun, reports: Path) -> dict[str, Any]:
    """Everything the template needs for one tutorial's section, from what `landing.check_run`
    read of the run; `reports` is the run's directory."""
    results, stamp = checked.results, checked.stamp
    stem = results["notebook"]
    blocks = figure_blocks([dict(fig) for fig in results["figures"]])
    for fig in (fig for block in blocks for fig in block["frames"]):  # what the report shows
        fig.update(
            href=landed_file(reports, fig["file"]),
            markup=inline_figure(reports / fig["file"], fig["alt"]),
        )
    verdict = results["verdict"]
    parameters = stamp["parameters"]  # exactly as run
    return {
        **results,
        "anchor": anchor(stem),
        "figure_blocks": blocks,
        "numbered_tables": [(i, t) for i, t in enumerate(results["tables"], start=1)],
        "verdict_text": verdict["text"],
        "exercises": _without_heading(stamp.get("exercises") or results.get("exercises", "")),
        "notebook_link": landed_file(reports, f"notebooks/{stem}.html"),
        "notebook_file": landed_file(reports, f"notebooks/{stem}.ipynb"),
        "results_file": landed_file(reports, f"results/{stem}.json"),
        "run": checked.papermill,
        "overrides": stamp["overrides"],
        "parameters": parameters,
        "seeds": results.get("seeds", parameters.get("seeds", [])),
        "command": rerun_command(results, stamp),
    }


_PLAIN_TOKEN = re.compile(r'<span class="(?:n|p|w)">([^<]*)</span>')


def plain_tokens(highlighted: str) -> str:
    """Highlighted code with names, punctuation and white space as plain text: they are drawn in
    the text's own colour, and a page of code keeps about half its elements."""
    return _PLAIN_TOKEN.sub(r"\1", highlighted)


_PRE = re.compile(r"(<pre[^>]*>)(.*?)(</pre>)", re.S)
_CODE_PART = re.compile(r"(<span\b[^>]*>|</span>|\n)")


def _lines(code: str) -> str:
    """The inside of a <pre> as one element per line, each with its indentation as `--i` (in
    characters), so a line that wraps continues under its own text, not at the margin. A span that
    runs over several lines (a docstring) is closed at each line's end and opened again."""
    open_spans: list[str] = []
    lines: list[list[str]] = [[]]
    for part in _CODE_PART.split(code):
        if part == "\n":
            lines[-1].extend(["</span>"] * len(open_spans) + ["\n"])
            lines.append(list(open_spans))
        elif part.startswith("<span"):
            open_spans.append(part)
            lines[-1].append(part)
        elif part == "</span>":
            if open_spans:
                open_spans.pop()
            lines[-1].append(part)
        elif part:
            lines[-1].append(part)
    if lines and not "".join(lines[-1]).strip() and len(lines) > 1:
        lines[-2].extend(t for t in lines.pop() if t.startswith("</span"))
    out = []
    for line in lines:
        text = html.unescape(re.sub(r"<[^>]*>", "", "".join(line)))
        indent = len(text) - len(text.lstrip(" "))
        first = next((i for i, part in enumerate(line) if not part.startswith("<")), None)
        if indent and first is not None and line[first].startswith(" "):
            # The indentation does not wrap: the line's text starts on its first row.
            spaces = len(line[first]) - len(line[first].lstrip(" "))
            line[first] = f'<span class="indent">{" " * spaces}</span>{line[first][spaces:]}'
        out.append(f'<span class="line" style="--i: {indent}">{"".join(line)}</span>')
    return "".join(out)


def code_lines(highlighted: str) -> str:
    """Highlighted code (`plain_tokens`) with each line of each <pre> its own element
    (`_lines`): wrapped on a narrow screen, Python keeps its indentation."""
    return _PRE.sub(lambda m: m[1] + _lines(m[2]) + m[3], highlighted)


def markdown(text: str) -> Markup:
    """Markdown (a notebook's exercises cell) as HTML that runs and fetches nothing: raw HTML in it
    is escaped, not passed through, and an image becomes a link to it (the page works offline)."""
    import mistune

    class Offline(mistune.HTMLRenderer):
        def image(self, text: str, url: str, title: str | None = None) -> str:
            return self.link(text or html.escape(url), url, title)

    rendered = mistune.create_markdown(renderer=Offline(escape=True), plugins=["math"])(text)
    return Markup(render.math_html(sanitize.fragment(rendered)))


def mathml(fragment: str) -> str:
    """A notebook page's rendered markdown with its formulas as MathML (`render.math_html`)."""
    return render.math_html(fragment)


# The page's icon, inline: a browser that finds none asks the server for /favicon.ico.
ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%231b5f96'/%3E"
    "%3Cpath d='M4 11V5l4 6V5m4 0v6' stroke='%23fff' fill='none'/%3E%3C/svg%3E"
)
ICON_LINK = f'<link rel="icon" href="{ICON}">'


def with_icon(page: str) -> str:
    """A whole page (sanitized: it has no <link> of its own) with the inline icon in its head."""
    return page.replace("<head>", f"<head>\n{ICON_LINK}", 1)


# The filters the executed-notebook template (templates/notebook.html.j2) uses.
NOTEBOOK_FILTERS = {"plain_tokens": plain_tokens, "code_lines": code_lines, "mathml": mathml}


GOING_FURTHER = "Going further"  # how a notebook's title marks it as beyond the thread's questions


def answers(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the page opens with: each question the lessons quote, with the first sentence of the
    verdict of the first lesson that quotes it and a link to that lesson. A lesson's questions that
    no earlier lesson asked share its one answer; a question asked again is answered once. A
    section titled "Going further: ..." answers no question here: `further` lists it."""
    asked: set[str] = set()
    found = []
    for s in sections:
        if s["title"].startswith(GOING_FURTHER):
            continue
        new = [q for q in s["questions"] if q not in asked]
        asked.update(new)
        if new:
            lead, _ = render.first_sentence(s["verdict_text"])
            found.append(
                {"questions": new, "answer": lead, "anchor": s["anchor"], "title": s["title"]}
            )
    return found


def further(sections: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The "Going further" sections, each as {anchor, title} with the prefix taken off its title,
    for the one line that follows the answers."""
    return [
        {"anchor": s["anchor"], "title": s["title"][len(GOING_FURTHER) :].lstrip(": ")}
        for s in sections
        if s["title"].startswith(GOING_FURTHER)
    ]


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
        first_sentence=render.first_sentence,
        comparisons=_markup(render.comparisons_html),
        icon=Markup(ICON),  # a constant: its quotes stay as written
    )
    return env


def load_sections(reports: Path) -> list[dict[str, Any]]:
    """One section per landed run (reports/runs/*/), in the order of their names, each checked
    whole first (`landing.check_run`). Anything else a section should show is added here, to the
    dict `section` returns, where the templates read it."""
    runs = sorted(p for p in (reports / RUNS).glob("*") if not p.name.startswith("."))
    sections = [section(landing.check_run(run), run) for run in runs]
    by_anchor = {s["anchor"]: s for s in sections}
    for run, found in zip(runs, sections, strict=True):  # a one-off beside its baseline
        if run.name.endswith(landing.ONE_OFF):
            base = by_anchor.get(found["anchor"], {}).get("claims", [])
            statuses = {c["name"]: c["status"] for c in base}
            found.update(
                anchor=anchor(run.name),
                baseline=found["anchor"],
                compared=[
                    {"name": c["name"], "baseline": statuses.get(c["name"]), "one_off": c["status"]}
                    for c in found["claims"]
                ],
            )
    return sections


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
            sections = load_sections(reports)
            if not sections:
                raise no_runs
            html_text = (
                jinja_environment()
                .get_template("report.html.j2")
                .render(
                    sections=sections,
                    answers=answers(sections),
                    further=further(sections),
                    generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                )
            )
            return write_text(reports / "index.html", html_text)
