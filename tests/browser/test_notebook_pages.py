"""The executed-notebook pages the report links, in Chromium: titled, described, wrapped, readable,
and linked back to their section of the report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.browser.conftest import SCREENSHOTS, VIEWS, OpenedPage
from tests.browser.test_report_in_browser import (
    ALL_FIGURE_TEXT,
    OVERFLOWING,
    READABLE_PX,
    axe_violations,
    page_math,
)

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]


def results_for(page: Path) -> dict:
    """The results JSON of the run an executed-notebook page belongs to."""
    return json.loads((page.parent.parent / "results" / f"{page.stem}.json").read_text())


def test_each_page_carries_its_notebooks_title_and_every_figures_alt_text(
    open_page, notebook_pages
):
    for path in notebook_pages:
        opened = open_page(**VIEWS["desktop"], path=path)
        found = opened.js(
            """() => ({title: document.title, h1: document.querySelector('h1').firstChild.textContent,
            labels: Array.from(document.querySelectorAll('[role=img][aria-label], img[alt]'))
                .map(el => el.getAttribute('aria-label') || el.getAttribute('alt'))})"""
        )
        assert found["title"] == found["h1"].strip() and found["title"] != "Notebook", found
        figures = results_for(path)["figures"]
        missing = [f["alt"] for f in figures if f["alt"] not in found["labels"]]
        assert missing == [], f"{path.name}: figures without their alt text"
        assert "No description has been provided" not in path.read_text()
        assert opened.console_errors == [] and opened.other_requests == []
        head = opened.js(
            """() => ({description: document.querySelector('meta[name=description]').content,
            icon: document.querySelector('link[rel=icon]').href})"""
        )
        assert found["title"] in head["description"] and head["icon"].startswith("data:"), head


def test_each_page_links_back_to_its_section_of_the_report(open_page, notebook_pages, report_file):
    report_ids = set(
        open_page(**VIEWS["desktop"]).js(
            "() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)"
        )
    )
    for path in notebook_pages:
        hrefs = open_page(**VIEWS["phone"], path=path).js(
            "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
        )
        back = [h for h in hrefs if urlparse(h).path.endswith("index.html")]
        assert back, f"{path.name} has no link to the report"
        for href in back:
            url = urlparse(href)
            assert (path.parent / unquote(url.path)).resolve() == report_file.resolve()
            assert url.fragment and url.fragment.startswith(path.stem[:2])
            assert url.fragment in report_ids, f"{path.name}: #{url.fragment} is not in the report"
        for href in hrefs:
            url = urlparse(href)
            if url.path and not url.scheme:
                assert (path.parent / unquote(url.path)).is_file(), f"{path.name}: {href}"


@pytest.mark.parametrize("view", ["phone", "tablet"])
def test_code_wraps_instead_of_being_cut_off(open_page, notebook_pages, view):
    for path in notebook_pages:
        opened = open_page(**VIEWS[view], path=path)
        layout = opened.js(OVERFLOWING)
        assert layout["elements"] == [] and layout["pageWidth"] <= layout["viewport"], layout
        clipped = opened.js(
            """() => Array.from(document.querySelectorAll('.highlight pre, .jp-RenderedText pre'))
            .filter(pre => pre.scrollWidth > pre.clientWidth + 1 || getComputedStyle(pre).whiteSpace === 'pre')
            .map(pre => pre.textContent.slice(0, 40))"""
        )
        assert clipped == [], f"{path.name}: code that does not wrap"
        if view == "phone" and path == notebook_pages[0]:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            opened.page.screenshot(path=SCREENSHOTS / f"390px-notebook-{path.stem[:2]}.png")


@pytest.mark.parametrize(
    "view,scheme",
    [("phone", "light"), ("phone", "dark"), ("tablet", "light"), ("desktop", "light")],
)
def test_axe_finds_no_violation_on_the_notebook_pages(open_page, notebook_pages, view, scheme):
    """Every rule on a phone, in both themes; at the wider screens every rule but colour contrast,
    which no width changes (and which takes axe most of its time over thousands of code tokens)."""
    skip = [] if view == "phone" else ["color-contrast"]
    found = {}
    for path in notebook_pages:
        violations = axe_violations(open_page(**VIEWS[view], scheme=scheme, path=path), skip)
        if violations:
            found[path.name] = violations
    assert found == {}


def test_axe_checks_the_contrast_of_a_code_token_unlike_those_before_it(browser, notebook_pages):
    """The colour-contrast rule skips code tokens that look like an earlier one; a token that looks
    like none before it (here the page's last with a letter or digit, made pale) is checked, and so is the first of each."""
    page = browser.new_page()
    try:
        page.goto(notebook_pages[0].as_uri(), wait_until="load")
        opened = OpenedPage(page, notebook_pages[0].as_uri())
        assert axe_violations(opened) == {}
        page.evaluate(
            "() => Array.from(document.querySelectorAll('.highlight pre span'))"
            ".filter(t => /\\w/.test(t.textContent)).at(-1).style.color = '#e8e8e8'"
        )
        assert list(axe_violations(opened)) == ["color-contrast"]
        page.reload(wait_until="load")
        page.add_style_tag(content=".highlight pre span { color: #e8e8e8 !important; }")
        found = axe_violations(opened)["color-contrast"]
        assert len(found) == 3  # the first three of the pale tokens named
    finally:
        page.close()


@pytest.mark.parametrize("view", [*VIEWS, "print"])
def test_formulas_are_mathml_and_no_latex_source_shows(open_page, notebook_pages, view):
    """Each `$...$` of a markdown cell is drawn as MathML, on screen and on paper."""
    import nbformat

    size = VIEWS["desktop"] if view == "print" else VIEWS[view]
    for path in notebook_pages:
        opened = open_page(**size, path=path, media="print" if view == "print" else "screen")
        found = page_math(opened)
        assert found["source"] == [], f"{path.name}: LaTeX source shown as text"
        notebook = nbformat.read(str(path.with_suffix(".ipynb")), as_version=4)
        markdown = "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        if re.search(r"\$[^$\s][^$]*\$", markdown):
            assert found["formulas"] > 0, f"{path.name}: its formulas are not MathML"


@pytest.mark.parametrize("view", VIEWS)
def test_figure_text_is_readable_in_the_page(open_page, notebook_pages, view):
    for path in notebook_pages:
        figures = open_page(**VIEWS[view], path=path).js(ALL_FIGURE_TEXT)
        small = [(f["id"], round(f["least"], 1)) for f in figures if not f["least"] >= READABLE_PX]
        assert small == [], f"{path.name}: figure text below {READABLE_PX} px"


# Lines of code that wrap on screen: where the line starts its text, and where its second
# screen line starts.
WRAPPED = """() => Array.from(document.querySelectorAll('.highlight pre .line')).map(line => {
    const text = line.textContent, start = text.length - text.trimStart().length;
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    range.selectNodeContents(line);
    const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
    const lefts = [...new Set(rects.map(r => Math.round(r.top)))].length;
    if (lefts < 2) return null;
    // the first visible character's left edge, and the left edge of the line's second row
    let node = walker.nextNode(), skipped = 0;
    while (node && skipped + node.textContent.length <= start) { skipped += node.textContent.length; node = walker.nextNode(); }
    const first = document.createRange();
    first.setStart(node, start - skipped);
    first.setEnd(node, start - skipped + 1);
    const top = Math.min(...rects.map(r => r.top));
    const second = rects.filter(r => r.top > top + 2).map(r => r.left);
    return {text: text.trim().slice(0, 50), indent: start, first: first.getBoundingClientRect().left,
            continuation: Math.min(...second)};
}).filter(Boolean)"""


@pytest.mark.parametrize("view", ["phone", "tablet"])
def test_wrapped_code_keeps_its_indentation(open_page, notebook_pages, view):
    """A code line too long for the screen continues to the right of where its own text starts,
    so Python's indentation stays readable."""
    wrapped = []
    for path in notebook_pages:
        lines = open_page(**VIEWS[view], path=path).js(WRAPPED)
        wrapped += lines
        bad = [line for line in lines if line["continuation"] <= line["first"] + 1]
        assert bad == [], f"{path.name}: continuation lines left of their line's text"
    if view == "phone":
        assert any(line["indent"] > 0 for line in wrapped), "no indented line wraps at 390 px"


def test_screenshots_for_the_reader(open_page, open_report, notebook_pages):
    """Phone screenshots under reports/screenshots/: the report's section with the most figures,
    and the first displayed formula of a notebook page (tutorial 04's derivation)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = open_report(**VIEWS["phone"])
    busiest = report.js(
        """() => Array.from(document.querySelectorAll('main section')).map(s =>
        [s.querySelectorAll('figure .svg, figure img').length, s.id]).sort((a, b) => b[0] - a[0])[0][1]"""
    )
    report.js("id => document.getElementById(id).querySelector('figure').scrollIntoView()", busiest)
    report.page.screenshot(path=SCREENSHOTS / f"390px-figures-{busiest}.png")
    shot = None
    for path in notebook_pages:
        opened = open_page(**VIEWS["phone"], path=path)
        if opened.js("() => document.querySelector('math[display=block]') !== null"):
            opened.js("() => document.querySelector('math[display=block]').scrollIntoView()")
            opened.js("() => window.scrollBy(0, -200)")
            shot = SCREENSHOTS / f"390px-formula-{path.stem[:2]}.png"
            opened.page.screenshot(path=shot)
            break
    assert (SCREENSHOTS / f"390px-figures-{busiest}.png").stat().st_size > 0
    assert shot is None or shot.stat().st_size > 0
