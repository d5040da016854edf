"""Hostile strings on their way to HTML: nothing a parameter, a notebook's markdown, a results file,
a stamp or a figure holds may run or fetch anything in the report or in an executed notebook's page.

The report escapes every text (and its one script is its own); the executed-notebook pages are
sanitized to the same rule (`nnreg_keras.pipeline.sanitize`): no script, no event handler, no
javascript: link, no remote resource. Both are checked by a parser and a scan of the tags
(`faults_kit.live_content`), over cases written out and cases generated, and, where a Chromium is
installed, in the browser itself.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnreg_keras import recording, render
from nnreg_keras.pipeline import report, sanitize
from nnreg_keras.pipeline.contract import SCHEMA_VERSION
from tests import faults_kit as kit
from tests.faults_kit import STEM, live_content

HOSTILE = "<img src=x onerror=alert(1)>"
PAGE = Path("reports/runs") / STEM / "notebooks" / f"{STEM}.html"
# A run with a parameter changed is a one-off: it lands beside the profile's run of the notebook.
ONE_OFF_PAGE = Path("reports/runs") / f"{STEM}+one-off" / "notebooks" / f"{STEM}.html"


@pytest.fixture(scope="module")
def hostile_run(baseline, tmp_path_factory) -> kit.Project:
    """#7: `run 99 -p label '<img src=x onerror=alert(1)>'`: the notebook shows the label as HTML,
    in a table and in its verdict; its markdown holds a script, an iframe, a javascript: link."""
    project = kit.copy_project(baseline, tmp_path_factory.mktemp("hostile"))
    done = project.cli("run", "99", "--profile", "quick", "-p", "label", HOSTILE)
    assert done.returncode == 0, done.stderr
    assert project.main("report").returncode == 0
    assert kit.leftovers(project) == []
    return project


def test_a_parameter_string_is_no_live_html_in_the_notebook_page(hostile_run):
    page = (hostile_run.path / ONE_OFF_PAGE).read_text()
    assert live_content(page) == []
    assert "<p>Label: <img alt=" in page  # the notebook's own HTML output, its handler gone
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the table and the verdict: escaped


def test_raw_html_of_the_notebooks_markdown_runs_nothing_in_its_page(hostile_run):
    page = (hostile_run.path / ONE_OFF_PAGE).read_text()
    assert "<script" not in page and "<iframe" not in page and "javascript:" not in page
    assert "Raw HTML in a lesson:" in page and "a link that runs a script" in page
    assert "example.org/remote.png" not in page


def test_the_report_escapes_the_parameter_and_keeps_its_own_script_only(hostile_run):
    index = (hostile_run.reports / "index.html").read_text()
    assert index.count("<script") == 1 and "querySelectorAll" in index
    assert [x for x in live_content(index) if "script" not in x] == []
    assert "It ran at 0.1 with &lt;img src=x onerror=alert(1)&gt;." in index
    assert "one-off run with <code>label=&lt;img src=x onerror=alert(1)&gt;</code>" in index


def test_a_remote_image_of_the_exercises_becomes_a_link_in_the_report(baseline):
    """#8: ![x](https://...) in an exercises cell became a remote <img> in index.html."""
    index = (baseline / "reports" / "index.html").read_text()
    assert '<a href="https://example.org/figure.png">a remote figure</a>' in index
    assert "<img" not in index.split('<details class="exercises">')[1].split("</details>")[0]
    assert [x for x in live_content(index) if "script" not in x] == []


def chromium() -> str | None:
    return os.environ.get("NNREG_CHROMIUM") or shutil.which("chromium")


@pytest.mark.skipif(
    chromium() is None or __import__("importlib").util.find_spec("playwright") is None,
    reason="no Chromium and Playwright: the parser and the scan check the pages alone",
)
@pytest.mark.parametrize("page", [PAGE, Path("reports/index.html")], ids=["notebook", "report"])
def test_in_the_browser_the_pages_run_and_fetch_nothing_hostile(hostile_run, page):
    # In a thread of its own: the browser suite's session may hold Playwright's loop in this one.
    with ThreadPoolExecutor(1) as pool:
        found = pool.submit(_opened, (hostile_run.path / page).as_uri()).result()
    assert found["dialogs"] == [] and found["handlers"] == []
    assert found["scripts"] == (1 if page.name == "index.html" else 0)
    assert [u for u in found["requests"] if not u.startswith(("file:", "data:"))] == []


def _opened(url: str) -> dict[str, list | int]:
    """What a page does once Chromium opens it: its requests, dialogs, event-handler attributes
    and scripts."""
    from playwright.sync_api import sync_playwright

    requests, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        view = browser.new_page()
        view.on("request", lambda r: requests.append(r.url))
        view.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        view.goto(url)
        view.wait_for_timeout(500)
        handlers = view.evaluate(
            """() => [...document.querySelectorAll('*')].flatMap(e =>
                [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName))"""
        )
        scripts = view.evaluate("() => document.scripts.length")
        browser.close()
    return {"requests": requests, "dialogs": dialogs, "handlers": handlers, "scripts": scripts}


# The sanitizer, on pages generated from hostile pieces.
TAGS = ["script", "iframe", "img", "svg", "a", "style", "use", "image", "object", "embed", "link"]
TAGS += ["meta", "base", "form", "input", "math", "animate", "set", "div", "p", "noscript"]
TAGS += ["textarea", "title", "xmp", "template", "foreignObject", "mglyph", "table", "video"]
ATTRIBUTES = ["onerror", "onload", "OnClick", "href", "src", "xlink:href", "style", "srcset"]
ATTRIBUTES += ["action", "formaction", "fill", "data", "http-equiv", "content", "title", "poster"]
VALUES = [
    "javascript:alert(1)",
    " java\tscript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "https://evil.example/x.png",
    "//evil.example/x",
    "\\\\evil.example\\x",
    "data:text/html,<script>alert(1)</script>",
    "data:image/png;base64,AAAA",
    "#frag",
    "url(https://evil.example/x)",
    "url(#a)",
    "u\\72l(https://evil.example/x)",
    "background:url( 'ht\\74ps://evil.example')",
    "expression(alert(1))",
    "0;url=https://evil.example",
    "refresh",
    '"><script>alert(1)</script>',
]
TEXTS = ["</style>", "<!--", "-->", "]]>", "<![CDATA[", "</script>", "@import url(//evil.x);"]
TEXTS += ["a < b & c > d", "</noscript><img src=x onerror=alert(1)>", "&lt;script&gt;", "ur<l(//e)"]


@st.composite
def hostile_html(draw, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["tag", "text", "raw"] if depth < 3 else ["text", "raw"]))
        if kind == "text":
            parts.append(draw(st.sampled_from(TEXTS) | st.text(max_size=12)))
        elif kind == "raw":
            parts.append(draw(st.sampled_from(VALUES)))
        else:
            tag = draw(st.sampled_from(TAGS))
            attrs = draw(st.lists(st.tuples(st.sampled_from(ATTRIBUTES), st.sampled_from(VALUES))))
            quote = draw(st.sampled_from(['"', "'", ""]))
            written = "".join(
                f" {name}={quote}{value}{quote}" if quote or " " not in value else f" {name}"
                for name, value in attrs
            )
            inner = draw(hostile_html(depth + 1))
            parts.append(f"<{tag}{written}>{inner}</{tag}>")
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(hostile_html())
def test_a_sanitized_page_runs_and_fetches_nothing(page):
    clean = sanitize.page(page)
    assert live_content(clean) == []
    assert sanitize.page(clean) == clean


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_text_sanitizes_to_a_page_that_runs_nothing(text):
    clean = sanitize.page(text)
    assert live_content(clean) == [] and "<script" not in clean.lower()


def test_a_sanitized_page_keeps_what_the_notebook_shows(baseline):
    """The template's page, outputs and figures included, comes through unchanged in substance:
    every style sheet and data: image, every table, and what a figure draws."""
    page = (baseline / PAGE).read_text()
    clean = sanitize.page(page)
    assert clean.count("<style") == page.count("<style") and clean.count("url(data:") == page.count(
        "url(data:"
    )
    assert sanitize.page(clean) == clean and "Table 1. Labels" in clean
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<defs><clipPath id="p1"><rect width="1" height="1"/></clipPath></defs>'
        '<use xlink:href="#p1" clip-path="url(#p1)"/><style>*{stroke: red}</style></svg>'
    )
    assert sanitize.fragment(svg) == (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<defs><clippath id="p1"><rect width="1" height="1" /></clippath></defs>'
        '<use xlink:href="#p1" clip-path="url(#p1)" /><style>*{stroke: red}</style></svg>'
    )


# The report, with hostile strings in every field that reaches it.
words = st.sampled_from([HOSTILE, "<script>alert(1)</script>", '"><b>', "javascript:x", "&amp;"])
hostile = st.builds(lambda a, b: f"{a} {b}", words, st.text(max_size=16)).map(str.strip)
markdown = st.sampled_from(
    [
        "[click](javascript:alert(1))",
        "![remote](https://evil.example/x.png)",
        "<https://evil.example>",
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[a](data:text/html,<script>alert(1)</script>)",
        '![x](javascript:alert(1) "t")',
        "`<code>`",
    ]
)
HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
    '<image href="https://evil.example/x.png"/><style>@import url(//evil.example/s.css);</style>'
    '<foreignObject><iframe src="https://evil.example"></iframe></foreignObject>'
    '<a href="javascript:alert(3)"><text>x</text></a><rect fill="url(https://e.x/#g)"/></svg>'
)


def hostile_results(draw_text, stem: str) -> dict:
    t = draw_text
    return {
        "schema_version": SCHEMA_VERSION,
        "notebook": stem,
        "title": t(),
        "questions": [t(), t()],
        "verdict": {"text": t()},
        "claims": [
            {"name": t(), "status": "did not hold", "text": t(), "expected": t()},
            {"name": t(), "status": "inconclusive", "text": t(), "numbers": {t(): t()}},
        ],
        "tables": [
            {"caption": t(), "columns": [t(), t()], "rows": [[t(), 1.5], [None, t()]]},
            {"caption": t(), "columns": [t()], "rows": [[t()]], "lead": True},
        ],
        "figures": [
            {
                "file": f"figures/{stem}/a.svg",
                "caption": t(),
                "alt": t(),
                "group": "g",
                "frame": t(),
            },
            {
                "file": f"figures/{stem}/a.svg",
                "caption": t(),
                "alt": t(),
                "group": "g",
                "frame": t(),
            },
            {"file": f"figures/{stem}/a.svg", "caption": t(), "alt": t(), "frame": t()},
        ],
        "metrics": {t(): 1.0},
        "parameters": {t(): t(), "n": 1},
        "seeds": [0, 1],
        "profile": t(),
        "environment": {
            "keras_backend": t(),
            "python": t(),
            "packages": {t(): t()},
            "git_commit": t(),
            "lock_sha256": t(),
        },
    }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_hostile_strings_in_every_field_are_text_in_the_report(tmp_path, data):
    reports = tmp_path / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    stem = "01_hostile"
    run = reports / "runs" / stem
    results = hostile_results(lambda: data.draw(hostile), stem)
    results["exercises"] = "## Try it\n\n" + "\n".join(data.draw(st.lists(markdown, min_size=1)))
    (run / "figures" / stem).mkdir(parents=True)
    (run / "figures" / stem / "a.svg").write_text(HOSTILE_SVG)
    (run / "results").mkdir()
    (run / "results" / f"{stem}.json").write_text(json.dumps(results))
    overrides = {data.draw(hostile): data.draw(hostile)}
    stamp = {"notebook": stem, "profile": results["profile"], "parameters": overrides}
    (run / "run.json").write_text(json.dumps({**stamp, "overrides": overrides}))
    index = report.build(reports).read_text()
    assert index.count("<script") == 1, index
    assert [x for x in live_content(index) if "script" not in x] == [], live_content(index)


def test_a_hostile_stamp_and_figure_reach_the_report_as_text_through_the_command(
    baseline, tmp_path
):
    project = kit.copy_project(baseline, tmp_path)
    run = project.reports / "runs" / STEM
    stamp = json.loads((run / "run.json").read_text())
    stamp["overrides"] = {HOSTILE: "<script>alert(1)</script>"}
    (run / "run.json").write_text(json.dumps(stamp))
    results = json.loads((run / "results" / f"{STEM}.json").read_text())
    results["figures"] = [{"file": f"figures/{STEM}/a.svg", "caption": HOSTILE, "alt": HOSTILE}]
    (run / "results" / f"{STEM}.json").write_text(json.dumps(results))
    (run / "figures" / STEM).mkdir(parents=True)
    (run / "figures" / STEM / "a.svg").write_text(HOSTILE_SVG)
    done = project.main("report")
    assert done.returncode == 0, done.stderr
    index = (project.reports / "index.html").read_text()
    assert index.count("<script") == 1
    assert [x for x in live_content(index) if "script" not in x] == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert kit.leftovers(project) == []


# What the notebook itself shows: claims, verdicts, tables and captions are escaped text/html.
@settings(max_examples=10, deadline=None)
@given(text=hostile)
def test_the_notebook_shows_every_recorded_text_escaped(text, tmp_path_factory):
    shown = []
    saved = recording._display, os.environ.get(recording.OUTPUT_DIR_ENV)
    recording._display = lambda bundle, *_, **__: shown.append(bundle)
    os.environ[recording.OUTPUT_DIR_ENV] = str(tmp_path_factory.mktemp("out"))
    try:
        rec = recording.Recorder("99_x", title=text, questions=[text], parameters={}, seeds=[0])
        rec.add_table(text, [text], [[text]])
        rec.check("c", text, True, text)
        rec.compare("d", text, [1.0, 2.0, 3.0], [0.0, 1.0, 2.5])
        # A short answer takes plain words only: hostile text that breaks those rules is refused
        # before it is shown (recording.verdict_problems), so it stands in only where it passes.
        rec.verdict(text if not recording.verdict_problems(text) else "No.")
        import matplotlib

        matplotlib.use("agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.set_title(text)
        rec.add_figure(fig, "f", caption=text, alt=text)
    finally:
        recording._display = saved[0]
        if saved[1] is None:
            os.environ.pop(recording.OUTPUT_DIR_ENV, None)
        else:
            os.environ[recording.OUTPUT_DIR_ENV] = saved[1]
    assert len(shown) == 6  # table, check, finding, verdict, the count of comparisons, figure
    for bundle in shown:
        assert live_content(bundle["text/html"]) == [], bundle["text/html"]
        assert "<script" not in bundle["text/html"] and "<img src=x" not in bundle["text/html"]
    assert render.finding_html({"status": "held", "text": text}).count("<") == 2
