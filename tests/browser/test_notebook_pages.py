"""The executed-notebook pages the report links, in Chromium: titled, described, wrapped, readable,
and linked back to their section of the report."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.browser.conftest import SCREENSHOTS, VIEWS
from tests.browser.test_report_in_browser import OVERFLOWING, axe_violations

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
