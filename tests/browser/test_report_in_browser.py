"""The quick-profile report as a reader sees it in Chromium: on a phone, on a desktop, in print, to axe.

The checks read the page's structure generically (figures, tables, links, table-of-contents anchors),
so they hold for any section layout the template chooses.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline import cli
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.pipeline.runner import Layout, discover, pick
from tests.browser.conftest import PRINT_HEIGHT, PRINT_MARGIN_MM, PRINT_WIDTH, SCREENSHOTS, VIEWS
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

# A short CSS-like name for an element, to say which one broke a rule.
DESCRIBE = """el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + (el.textContent || '').trim().slice(0, 40) + '"'"""

SCROLLS_SIDEWAYS = """el => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return a; }
    return null; }"""

# Elements that stick out of the viewport sideways and are not inside something that scrolls.
OVERFLOWING = f"""() => {{
    const describe = {DESCRIBE}, scroller = {SCROLLS_SIDEWAYS};
    const width = document.documentElement.clientWidth, out = [];
    for (const el of document.body.querySelectorAll('*')) {{
        const r = el.getBoundingClientRect();
        if (r.width === 0 || el.closest('svg') !== null && el.tagName.toLowerCase() !== 'svg') continue;
        if ((r.right > width + 0.5 || r.left < -0.5) && scroller(el) === null) out.push(describe(el));
    }}
    return {{pageWidth: document.documentElement.scrollWidth, viewport: width, elements: out}};
}}"""

# Visible text outside figures, with the font size it is drawn at.
TEXT_SIZES = f"""() => {{
    const describe = {DESCRIBE}, walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const sizes = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
        const el = node.parentElement;
        if (!node.textContent.trim() || el.closest('svg') || !el.checkVisibility()) continue;
        sizes.push([describe(el), parseFloat(getComputedStyle(el).fontSize)]);
    }}
    return sizes;
}}"""

# Each table: how wide it is against the box that holds it, and whether that box visibly scrolls.
TABLES = f"""() => Array.from(document.querySelectorAll('table')).map(table => {{
    const describe = {DESCRIBE}, scroller = {SCROLLS_SIDEWAYS}, box = scroller(table) || table.parentElement;
    const column = box.parentElement.getBoundingClientRect();
    return {{table: describe(table), width: table.getBoundingClientRect().width, room: box.clientWidth,
             scrolls: box.scrollWidth > box.clientWidth + 1,
             affordance: box.offsetHeight > box.clientHeight || getComputedStyle(box).backgroundImage !== 'none',
             boxInsideColumn: box.getBoundingClientRect().right <= column.right + 0.5,
             cellsRight: Math.max(...Array.from(table.querySelectorAll('th, td'))
                                       .map(c => c.getBoundingClientRect().right)),
             right: table.getBoundingClientRect().right, height: table.getBoundingClientRect().height,
             breakInside: getComputedStyle(table).breakInside}};
}})"""

FIGURES = f"""() => Array.from(document.querySelectorAll('figure')).map(figure => {{
    const describe = {DESCRIBE}, box = figure.getBoundingClientRect();
    const graphics = Array.from(figure.querySelectorAll('svg, img, canvas'))
        .filter(g => g.parentElement.closest('svg') === null)
        .map(g => g.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
    return {{figure: describe(figure), width: box.width, height: box.height, right: box.right,
             graphics: graphics.length, graphicsRight: Math.max(0, ...graphics.map(r => r.right)),
             hidden: !figure.checkVisibility({{visibilityProperty: true}}),  // e.g. another frame's turn
             breakInside: getComputedStyle(figure).breakInside}};
}})"""

ANCHOR_TARGETS = """() => Array.from(document.querySelectorAll('nav a[href^="#"]'))
    .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))"""


def test_page_loads_without_console_errors_or_requests(desktop):
    assert desktop.js("document.title")
    assert desktop.console_errors == []
    assert desktop.other_requests == [], "the report must be self-contained"


def test_every_figure_is_drawn_with_a_size(desktop):
    figures = [fig for fig in desktop.js(FIGURES) if not fig["hidden"]]
    assert figures, "the report shows no figure"
    for fig in figures:
        assert fig["width"] > 0 and fig["height"] > 0, fig
        assert fig["graphics"] >= 1, f"no drawn image in {fig['figure']}"


def test_every_table_of_contents_link_scrolls_to_its_section(desktop):
    page, targets = desktop.page, desktop.js(ANCHOR_TARGETS)
    assert targets, "no table of contents"
    for target in targets:
        page.evaluate("window.scrollTo(0, 0)")
        page.locator(f'nav a[href="#{target}"]').first.click()
        top, at_bottom, height = desktop.js(
            """id => [document.getElementById(id).getBoundingClientRect().top,
            window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1,
            window.innerHeight]""",
            target,
        )
        assert abs(top) <= 2 or (at_bottom and 0 <= top < height), f"#{target} is at {top:.0f} px"


def test_every_local_link_and_anchor_resolves(desktop, report_file: Path):
    hrefs = desktop.js(
        "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
    )
    ids = set(desktop.js("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    for href in hrefs:
        url = urlparse(href)
        if url.scheme in ("http", "https", "mailto"):
            continue
        assert not url.scheme, f"unexpected link {href}"
        if url.path:
            assert (report_file.parent / unquote(url.path)).is_file(), (
                f"link {href} points to no file"
            )
        elif url.fragment:
            assert unquote(url.fragment) in ids, f"link {href} points to no element"


def rerun_problem(command: str) -> str | None:
    """Why `python -m nnreg_keras run ...` would not run as shown, or None when it would."""
    words = shlex.split(command)
    try:
        args = cli._parser().parse_args(words[words.index("nnreg_keras") + 1 :])
    except SystemExit:
        return "the command line does not parse"
    layout = Layout(ROOT / "tutorials", ROOT / "params")
    if not layout.profile_path(args.profile).is_file():
        return f"no profile {args.profile}"
    try:
        notebooks = pick(discover(layout.tutorials), args.notebooks)
    except NnregError as err:
        return str(err)
    for name, _ in args.parameter:
        if not all(name in notebook_defaults(nb) for nb in notebooks):
            return f"no parameter {name} in {', '.join(nb.stem for nb in notebooks)}"
    return None


def test_every_rerun_command_names_a_notebook_profile_and_parameters_that_exist(desktop):
    texts = desktop.js(
        "() => Array.from(document.querySelectorAll('pre, code')).map(e => e.textContent)"
    )
    commands = sorted(
        {
            m.group(0).strip()
            for text in texts
            for m in re.finditer(r"python -m nnreg_keras run[^\n`]*", text)
        }
    )
    assert commands, "no rerun command on the page"
    problems = {command: rerun_problem(command) for command in commands}
    assert {c: p for c, p in problems.items() if p} == {}


def test_phone_width_has_no_sideways_overflow_and_readable_text(phone):
    layout = phone.js(OVERFLOWING)
    assert layout["elements"] == [] and layout["pageWidth"] <= layout["viewport"], layout
    small = sorted({(where, size) for where, size in phone.js(TEXT_SIZES) if size < 14})
    assert small == [], "text below 14 px at 390 px width"


@pytest.mark.parametrize("view", VIEWS)
def test_tables_fit_their_column_or_visibly_scroll(request, view):
    for table in request.getfixturevalue(view).js(TABLES):
        assert table["boxInsideColumn"], f"{table['table']} sticks out of the text column"
        if table["scrolls"]:  # a scrollbar, or edge shadows painted by the box
            assert table["affordance"], (
                f"{table['table']} is wider than its box and does not show it"
            )


def test_print_keeps_every_column_and_figure_on_the_page(open_report):
    printed = open_report(round(PRINT_WIDTH), media="print", height=round(PRINT_HEIGHT))
    for table in printed.js(TABLES):
        assert not table["scrolls"], f"{table['table']} scrolls in print, so columns are lost"
        assert max(table["right"], table["cellsRight"]) <= PRINT_WIDTH + 0.5, table
        if table["height"] <= PRINT_HEIGHT:
            assert table["breakInside"] == "avoid", f"{table['table']} may be split across pages"
    for fig in printed.js(FIGURES):
        if fig["hidden"] or fig["height"] == 0:
            continue
        assert max(fig["right"], fig["graphicsRight"]) <= PRINT_WIDTH + 0.5, fig
        assert fig["height"] <= PRINT_HEIGHT and fig["breakInside"] == "avoid", fig
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    margin = f"{PRINT_MARGIN_MM}mm"
    pdf = printed.page.pdf(
        path=SCREENSHOTS / "report.pdf",
        format="A4",
        margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
    )
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    print(f"\nreport.pdf: {pages} A4 pages")
    assert pages >= len(printed.js(ANCHOR_TARGETS))  # every section starts on a page of its own


@pytest.mark.parametrize("view", VIEWS)
def test_axe_finds_no_serious_or_critical_violation(open_report, view):
    from axe_playwright_python.sync_playwright import Axe

    opened = open_report(**VIEWS[view])
    # A drawing inside a labelled role="img" is presentational (the label speaks for it); emptied, it
    # no longer makes axe walk its tens of thousands of nodes.
    opened.js(
        "() => document.querySelectorAll('[role=img] > svg').forEach(svg => svg.replaceChildren())"
    )
    violations = Axe().run(opened.page).response["violations"]
    serious = {
        v["id"]: [n["target"] for n in v["nodes"][:3]]
        for v in violations
        if v["impact"] in ("serious", "critical")
    }
    print(
        f"\naxe on {view}: "
        + (
            ", ".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])})" for v in violations)
            or "no violation"
        )
    )
    assert serious == {}


@pytest.mark.parametrize("view", VIEWS)
def test_screenshots_of_each_section_top(request, view):
    opened, width = request.getfixturevalue(view), VIEWS[view]["width"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for number, target in enumerate(opened.js(ANCHOR_TARGETS), 1):
        opened.js("id => document.getElementById(id).scrollIntoView()", target)
        shot = SCREENSHOTS / f"{width}px-{number:02d}-{target}.png"
        opened.page.screenshot(path=shot)
        assert shot.stat().st_size > 0


EXPLORABLE = """() => Array.from(document.querySelectorAll('figure.explorable')).map(figure => ({
    id: figure.id, slider: figure.querySelector('input[type=range]') !== null,
    label: (figure.querySelector('output') || {}).textContent || '',
    shown: Array.from(figure.querySelectorAll('figure.frame')).map(frame => frame.checkVisibility()),
    frames: Array.from(figure.querySelectorAll('figure.frame')).map(frame => frame.dataset.frame)}))"""


def test_an_explorable_figure_is_a_slider_on_screen_and_every_frame_in_print(open_report):
    screen = open_report(**VIEWS["desktop"])
    figures = screen.js(EXPLORABLE)
    if not figures:
        pytest.skip("no notebook records an explorable figure (figures sharing a group)")
    for fig in figures:
        assert fig["slider"] and fig["shown"] == [True] + [False] * (len(fig["frames"]) - 1), fig
        assert fig["label"] == f"1 of {len(fig['frames'])}: {fig['frames'][0]}"
        slider = screen.page.locator(f"[id='{fig['id']}'] input[type=range]")
        slider.press("End")  # the keyboard moves a range input and fires its input event
        moved = next(f for f in screen.js(EXPLORABLE) if f["id"] == fig["id"])
        assert moved["shown"] == [False] * (len(fig["frames"]) - 1) + [True]
        assert moved["label"].endswith(fig["frames"][-1])
    printed = open_report(round(PRINT_WIDTH), media="print", height=round(PRINT_HEIGHT))
    for fig in printed.js(EXPLORABLE):
        assert all(fig["shown"]), f"print hides a frame of {fig['id']}"
        controls = f"document.getElementById('{fig['id']}').querySelector('.frame-controls')"
        assert printed.js(f"() => getComputedStyle({controls}).display") == "none"
