"""The quick-profile report as a reader sees it in Chromium: on a phone, a tablet and a laptop, on
paper, and to axe.

The checks read the page's structure generically (figures, tables, links, headings, landmarks), so
they hold for any section layout the template chooses.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline import cli
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.pipeline.runner import Layout, discover, pick
from tests.browser.conftest import PRINT_HEIGHT, PRINT_WIDTH, SCREENSHOTS, VIEWS
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

# The smallest text a figure may show on screen, in CSS pixels, where it is drawn or at full size.
READABLE_PX = 10
# What the report is held to, per notebook section: the default profile's five lessons came to
# about 80 KB and 600 elements each (the quick report is smaller still).
MAX_BYTES, MAX_ELEMENTS = 200_000, 600

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
        // a formula's indices are set smaller, as in print
        if (!node.textContent.trim() || el.closest('svg, math') || !el.checkVisibility()) continue;
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

# The smallest text of a drawing as rendered, in CSS pixels (font size times the drawing's scale);
# for a PNG, which has no text elements, the size the recorder noted in it, times its drawn scale.
SMALLEST_TEXT = """graphic => {
    const svg = graphic.querySelector('svg');
    if (!svg) {
        // A PNG, saved at 110 dpi, notes the size of its smallest text in points.
        const scale = graphic.getBoundingClientRect().width / graphic.naturalWidth;
        const points = parseFloat(graphic.dataset.smallestText || 'NaN');
        return {svg: false, scale: scale, least: points / 72 * 110 * scale};
    }
    let least = Infinity;
    for (const text of svg.querySelectorAll('text')) {
        const matrix = text.getScreenCTM(), size = parseFloat(getComputedStyle(text).fontSize);
        if (text.textContent.trim() && matrix && text.getBBox().width > 0)
            least = Math.min(least, size * Math.hypot(matrix.a, matrix.b));
    }
    return {svg: true, least: least};
}"""

SHOWN_FIGURES = f"""() => Array.from(document.querySelectorAll('main figure:not(.explorable)'))
    .map(figure => ({{figure, graphic: figure.querySelector(':scope > .svg, :scope > img')}}))
    .filter(f => f.graphic && f.graphic.checkVisibility())
    .map(f => ({{id: f.figure.id || ({DESCRIBE})(f.figure), ...({SMALLEST_TEXT})(f.graphic),
                index: Array.from(document.querySelectorAll('main figure:not(.explorable)')).indexOf(f.figure)}}))"""

IN_VIEWER = f"""() => {{
    const dialog = document.querySelector('dialog.viewer');
    const graphic = dialog.querySelector('.viewer-stage > .svg, .viewer-stage > img');
    return {{open: dialog.open, ...(graphic ? ({SMALLEST_TEXT})(graphic) : {{}}),
             focus: document.activeElement.className}};
}}"""

# Pairs of text elements whose boxes overlap by more than a pixel each way, in each drawing
# (measured at the drawing's own size: box sizes divided by the scale it is drawn at).
OVERLAPS = f"""() => Array.from(document.querySelectorAll('main figure .svg > svg')).map(svg => {{
    const figure = svg.closest('figure'), scale = svg.getBoundingClientRect().width / svg.width.baseVal.value;
    const boxes = Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim())
        .map(t => ({{text: t.textContent.trim(), r: t.getBoundingClientRect()}}));
    const pairs = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {{
        const a = boxes[i].r, b = boxes[j].r;
        const w = (Math.min(a.right, b.right) - Math.max(a.left, b.left)) / scale;
        const h = (Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)) / scale;
        if (w > 1 && h > 1) pairs.push([boxes[i].text, boxes[j].text]);
    }}
    return {{figure: figure.id || ({DESCRIBE})(figure), texts: boxes.length, pairs}};
}})"""

ANCHOR_TARGETS = """() => Array.from(document.querySelectorAll('nav#contents a[href^="#"]'))
    .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))"""


def results_of(report_file: Path) -> list[dict]:
    """The results JSON of every run the report shows, in the report's order."""
    return [
        json.loads(p.read_text()) for p in sorted(report_file.parent.glob("runs/*/results/*.json"))
    ]


# Visible text outside code, drawings and formulas that still reads as LaTeX source ($...$).
MATH_SOURCE = r"""() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), found = [];
    const source = /\$[^$\s][^$]*\$/;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (el.closest('code, pre, svg, math, script, style') || !el.checkVisibility()) continue;
        if (source.test(node.textContent)) found.push(node.textContent.trim().slice(0, 60));
    }
    return {source: found, formulas: document.querySelectorAll('math').length};
}"""


def page_math(opened) -> dict:
    """LaTeX source still visible on an opened page, and how many MathML formulas it draws (every
    <details> opened first, as on paper)."""
    opened.js("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    return opened.js(MATH_SOURCE)


@pytest.mark.parametrize("view", [*VIEWS, "printed"])
def test_formulas_are_mathml_and_no_latex_source_shows(request, view, report_file: Path):
    opened = request.getfixturevalue(view)
    found = page_math(opened)
    assert found["source"] == [], "LaTeX source shown as text"
    exercises = "".join(r.get("exercises", "") for r in results_of(report_file))
    if "$" in exercises:
        assert found["formulas"] > 0


def test_page_loads_without_console_errors_or_requests(desktop):
    assert desktop.js("document.title")
    assert desktop.console_errors == []
    assert desktop.other_requests == [], "the report must be self-contained"
    assert desktop.js("() => document.querySelector('link[rel=icon]').href").startswith("data:")


def test_the_page_is_light(desktop, report_file: Path):
    size = report_file.stat().st_size
    elements = desktop.js("() => document.getElementsByTagName('*').length")
    in_drawings = desktop.js("() => document.querySelectorAll('svg *').length")
    print(f"\nindex.html: {size / 1e6:.2f} MB, {elements:,} elements ({in_drawings:,} in drawings)")
    sections = desktop.js("() => document.querySelectorAll('main section[id]').length")
    assert size < MAX_BYTES * sections and elements < MAX_ELEMENTS * sections


def test_every_figure_is_drawn_with_a_size(desktop):
    figures = [fig for fig in desktop.js(FIGURES) if not fig["hidden"]]
    assert figures, "the report shows no figure"
    for fig in figures:
        assert fig["width"] > 0 and fig["height"] > 0, fig
        assert fig["graphics"] >= 1, f"no drawn image in {fig['figure']}"


# Every drawing of a page, frames of explorable figures included, made visible one at a time.
ALL_FIGURE_TEXT = f"""() => Array.from(document.querySelectorAll('figure .svg, figure img'))
    .map(graphic => {{
        const frame = graphic.closest('figure.frame'), hidden = frame && frame.hidden;
        if (hidden) frame.hidden = false;
        const found = {{id: ({DESCRIBE})(graphic.closest('figure')), ...({SMALLEST_TEXT})(graphic)}};
        if (hidden) frame.hidden = true;
        return found;
    }})"""


@pytest.mark.parametrize("view", VIEWS)
def test_figure_text_is_readable_in_the_page(request, view):
    """Every SVG and PNG figure draws its smallest text at 10 px or more, where it stands in the
    page, at every width (`plots.fit_for_phone` narrows figures until it does)."""
    figures = request.getfixturevalue(view).js(ALL_FIGURE_TEXT)
    assert figures and all(f["least"] == f["least"] for f in figures), "a figure without a size"
    small = [(f["id"], round(f["least"], 1)) for f in figures if f["least"] < READABLE_PX]
    assert small == [], f"figure text below {READABLE_PX} px at {VIEWS[view]['width']} px"


def test_printed_figure_text_is_7_pt_or_more(printed):
    """On paper (CSS px at 96 per inch, 72 points per inch), every frame of every figure."""
    figures = printed.js(ALL_FIGURE_TEXT)
    small = [(f["id"], round(f["least"] * 0.75, 1)) for f in figures if f["least"] * 0.75 < 7]
    assert figures and small == [], "figure text below 7 pt on paper"


def test_a_tap_on_a_figure_opens_it_full_size_and_the_backdrop_or_close_button_closes_it(phone):
    page = phone.page
    figure = page.locator("main figure:not(.explorable)").first
    figure.scroll_into_view_if_needed()
    figure.locator(":scope > .svg, :scope > img").tap()
    assert phone.js(IN_VIEWER)["open"]
    page.locator("dialog.viewer .viewer-close").tap()
    assert not phone.js(IN_VIEWER)["open"]
    assert figure.locator(":scope > .svg, :scope > img").is_visible(), (
        "the figure did not come back"
    )


REOPEN = """async () => {
    const figures = Array.from(document.querySelectorAll('main figure:not(.explorable)'))
        .filter(f => f.querySelector(':scope > figcaption button.full-size'));
    const [a, b] = figures, dialog = document.querySelector('dialog.viewer');
    const graphic = f => f.querySelector(':scope > .svg, :scope > img');
    // The page's own close listener was added first, so it has run when this one resolves.
    const closed = () => new Promise(done => dialog.addEventListener('close', done, {once: true}));
    const second = graphic(b);
    a.querySelector('button.full-size').click();
    const late = closed();
    dialog.close();  // its close event runs later, after the next figure has opened
    b.querySelector('button.full-size').click();
    await late;
    const shown = dialog.querySelector('.viewer-stage > .svg, .viewer-stage > img');
    const result = {open: dialog.open, second: shown === second, first: graphic(a) !== null};
    const back = closed();
    dialog.close();
    await back;
    return {...result, back: graphic(b) === second};
}"""


def test_a_figure_opened_right_after_another_closed_stays_in_the_viewer(desktop):
    """Escape, then Enter on the next figure at once: the first viewer's late close event must
    neither empty the viewer nor lose a drawing."""
    found = desktop.page.evaluate(REOPEN)
    assert found == {"open": True, "second": True, "first": True, "back": True}


def test_no_text_in_a_figure_overlaps_another(printed):
    """Every drawing, every frame of an explorable figure included (print shows them all)."""
    figures = printed.js(OVERLAPS)
    assert figures and all(f["texts"] > 0 for f in figures), (
        "figure text is not text (svg.fonttype)"
    )
    overlapping = {f["figure"]: f["pairs"][:3] for f in figures if f["pairs"]}
    assert overlapping == {}


def test_the_first_phone_screen_answers_every_question_with_a_link_to_its_section(
    phone, report_file: Path
):
    """The page opens with each question the lessons quote (answered once, by the first lesson
    quoting it), the first sentence of that lesson's verdict, and a link to it: all on a
    390 x 844 screen. A "Going further" section answers none there; a line links to each."""
    page = phone.page
    page.evaluate("window.scrollTo(0, 0)")
    shown = phone.js(
        """() => Array.from(document.querySelectorAll('ol.answers > li')).map(li => ({
        asked: Array.from(li.querySelectorAll('.asked')).map(p => p.textContent.trim()),
        answer: li.querySelector('.answer').firstChild.textContent.trim(),
        href: li.querySelector('.answer a').getAttribute('href'),
        bottom: li.getBoundingClientRect().bottom}))"""
    )
    expected, asked = [], set()
    further = []
    for results in results_of(report_file):
        if results["title"].startswith("Going further"):
            further.append(results["notebook"])
            continue
        new = [q for q in results["questions"] if q not in asked]
        asked.update(new)
        if new:
            expected.append((new, results["verdict"]["text"], results["notebook"]))
    assert [s["asked"] for s in shown] == [e[0] for e in expected]
    for item, (_, verdict, stem) in zip(shown, expected, strict=True):
        assert verdict.startswith(item["answer"]) and item["answer"][-1] in ".!?", item
        assert item["href"] == "#" + re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    links = phone.js(
        "() => Array.from(document.querySelectorAll('p.further a')).map(a => a.getAttribute('href'))"
    )
    assert links == ["#" + re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") for stem in further]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "390px-first-screen.png")
    assert max(s["bottom"] for s in shown) <= VIEWS["phone"]["height"], shown


# Text under the contents button: text nodes whose boxes meet the button's, on screen.
COVERED = """() => {
    const button = document.querySelector('a.to-contents'), b = button.getBoundingClientRect();
    const opaque = parseFloat(getComputedStyle(button).opacity) > 0;
    if (!opaque || b.top >= window.innerHeight || !button.checkVisibility({visibilityProperty: true}))
        return {visible: false, covered: []};
    const covered = [], walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const r of range.getClientRects())
            if (r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom)
                covered.push(node.textContent.trim().slice(0, 30));
    }
    return {visible: true, covered};
}"""


AT_REST = "document.querySelector('a.to-contents').getAnimations().length === 0"


# What keeps the button shown, for a failure to name: its classes (`shown`), keyboard focus, open
# contents, a `#contents` target, and where the page is.
BUTTON_STATE = """() => {
    const button = document.querySelector('a.to-contents'), active = document.activeElement;
    return {classes: button.className, focused: active === button,
            active: active ? active.tagName + '#' + active.id : null,
            contents: document.getElementById('contents').className, hash: location.hash,
            scrollY: window.scrollY, transform: getComputedStyle(button).transform};
}"""


@pytest.mark.parametrize("view", ["phone", "tablet"])
def test_the_contents_button_covers_no_text_at_rest(request, view):
    opened = request.getfixturevalue(view)
    page = opened.page
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for share in (0, 0.3, 0.6):
        page.evaluate(f"window.scrollTo(0, document.documentElement.scrollHeight * {share})")
        page.evaluate("window.scrollBy(0, -200)")  # scrolling back up shows it ...
        page.wait_for_timeout(2500)  # ... and at rest it leaves
        # At rest: its show or hide transition over (on its way down the button can pass between
        # two lines and cover none for a moment), and no text under it.
        opened.settle(f"() => {AT_REST} && ({COVERED})().covered.length === 0")
        found = opened.js(COVERED)
        assert found["covered"] == [], f"at {share:.0%}: {found}; {opened.js(BUTTON_STATE)}"


MARKED = """() => [
    Array.from(document.querySelectorAll('nav#contents a[aria-current]'))
        .map(a => decodeURIComponent(a.getAttribute('href').slice(1))),
    window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1]"""
# Marked as the test expects: the section in view alone, or at the page's end any one section.
MARKED_AS = f"""target => {{
    const [current, atBottom] = ({MARKED})();
    return current.length === 1 && (current[0] === target || atBottom);
}}"""


def test_the_sidebar_marks_the_section_in_view(desktop):
    targets = desktop.js(ANCHOR_TARGETS)
    for target in targets:
        desktop.js("id => document.getElementById(id).scrollIntoView()", target)
        desktop.settle(MARKED_AS, target)  # the observer marks it within a frame or two
        current, at_bottom = desktop.js(MARKED)
        assert current == [target] or (at_bottom and len(current) == 1), (target, current)


@pytest.mark.parametrize("view", ["phone", "tablet"])
def test_the_contents_are_one_tap_away_anywhere_on_the_page(request, view):
    opened = request.getfixturevalue(view)
    page, targets = opened.page, opened.js(ANCHOR_TARGETS)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight * 0.6)")
    button = page.locator("a.to-contents")
    for attempt in range(
        3
    ):  # the button leaves 2.5 s after the scroll: a slow machine scrolls again
        page.evaluate("window.scrollBy(0, -100)")  # a reader looking for the contents scrolls up
        page.wait_for_timeout(300)
        assert button.is_visible() and button.bounding_box()["y"] >= 0
        try:
            button.tap(timeout=2000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    links = page.locator("nav#contents a[href^='#']")
    assert links.count() == len(targets) and all(
        links.nth(i).is_visible() for i in range(links.count())
    )
    boxes = [links.nth(i).bounding_box() for i in range(links.count())]
    height = opened.js("window.innerHeight")
    assert all(0 <= b["y"] and b["y"] + b["height"] <= height for b in boxes), boxes
    links.nth(len(targets) - 2).tap()  # the last section
    top = opened.js(f"() => document.getElementById('{targets[-2]}').getBoundingClientRect().top")
    assert abs(top) <= 2 and not page.locator("nav#contents").is_visible()
    button.focus()  # from the keyboard, the button shows wherever the page is
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert not page.locator("nav#contents").is_visible()


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
        assert page.locator("nav#contents").is_visible(), "the contents left the screen"


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


def test_each_section_links_its_notebook_results_and_figure_files(desktop, report_file: Path):
    for results in results_of(report_file):
        stem = results["notebook"]
        hrefs = set(
            desktop.js(
                """stem => Array.from(document.querySelectorAll(`section[id^="${stem.slice(0, 2)}"] a[href]`))
                .map(a => a.getAttribute('href'))""",
                stem,
            )
        )
        expected = {
            f"runs/{stem}/notebooks/{stem}.html",
            f"runs/{stem}/notebooks/{stem}.ipynb",
            f"runs/{stem}/results/{stem}.json",
            *(  # a frame left out of the report is on the notebook's page, linked above
                f"runs/{stem}/{fig['file']}"
                for fig in results["figures"]
                if fig.get("in_report", True)
            ),
        }
        assert expected <= hrefs, f"{stem}: no link to {sorted(expected - hrefs)}"


def test_headings_and_landmarks_name_their_section(desktop):
    found = desktop.js(
        """() => ({
        headings: Array.from(document.querySelectorAll('h1, h2, h3, h4')).map(h => h.textContent.trim()),
        sections: Array.from(document.querySelectorAll('main section')).map(s => {
            const label = document.getElementById(s.getAttribute('aria-labelledby') || '');
            return label ? label.tagName + ' ' + label.textContent.trim() : null; }),
        landmarks: Array.from(document.querySelectorAll('nav, footer, main section')).map(l =>
            l.getAttribute('aria-label')
            || (document.getElementById(l.getAttribute('aria-labelledby') || '') || {}).textContent)})"""
    )
    repeated = sorted({h for h in found["headings"] if found["headings"].count(h) > 1})
    assert repeated == [], "headings that say the same"
    assert found["sections"] and all(s and s.startswith("H2 ") for s in found["sections"])
    assert all(found["landmarks"]), found["landmarks"]


def rerun_problem(command: str) -> str | None:
    """Why `nnreg-keras run ...` would not run as shown, or None when it would."""
    words = shlex.split(command)
    try:
        args = cli._parser().parse_args(words[words.index("nnreg-keras") + 1 :])
    except SystemExit:
        return "the command line does not parse"
    layout = Layout(ROOT / "tutorials", ROOT / "params")
    if args.profile is not None and not layout.profile_path(args.profile).is_file():
        return f"no profile {args.profile}"  # without --profile: the last report's, which exists
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
        {m.group(0).strip() for text in texts for m in re.finditer(r"nnreg-keras run[^\n`]*", text)}
    )
    assert commands, "no rerun command on the page"
    problems = {command: rerun_problem(command) for command in commands}
    assert {c: p for c, p in problems.items() if p} == {}


@pytest.mark.parametrize("view", ["phone", "tablet"])
def test_narrow_screens_have_no_sideways_overflow_and_readable_text(request, view):
    opened = request.getfixturevalue(view)
    layout = opened.js(OVERFLOWING)
    assert layout["elements"] == [] and layout["pageWidth"] <= layout["viewport"], layout
    small = sorted({(where, size) for where, size in opened.js(TEXT_SIZES) if size < 14})
    assert small == [], f"text below 14 px at {VIEWS[view]['width']} px width"


@pytest.mark.parametrize("view", VIEWS)
def test_tables_fit_their_column_or_visibly_scroll(request, view):
    for table in request.getfixturevalue(view).js(TABLES):
        assert table["boxInsideColumn"], f"{table['table']} sticks out of the text column"
        if table["scrolls"]:  # a scrollbar, or edge shadows painted by the box
            assert table["affordance"], (
                f"{table['table']} is wider than its box and does not show it"
            )


def test_every_table_row_has_a_row_header(desktop):
    rows = desktop.js(
        """() => Array.from(document.querySelectorAll('tbody tr')).map(tr =>
        tr.firstElementChild.tagName + ' ' + tr.firstElementChild.getAttribute('scope'))"""
    )
    assert rows and set(rows) == {"TH row"}


def test_a_table_scrolled_sideways_keeps_its_caption_and_row_headers_in_view(phone):
    moved = phone.js(
        """() => Array.from(document.querySelectorAll('.table-wrap'))
        .filter(box => box.scrollWidth > box.clientWidth + 1).map(box => {
            box.scrollLeft = box.scrollWidth;
            const room = box.getBoundingClientRect(), caption = box.querySelector('caption').getBoundingClientRect();
            const headers = Array.from(box.querySelectorAll('tbody th')).map(th => th.getBoundingClientRect().left);
            const result = {caption: caption.left >= room.left - 0.5 && caption.right <= room.right + 0.5,
                            headers: headers.every(left => Math.abs(left - room.left) <= 1)};
            box.scrollLeft = 0;
            return result; })"""
    )
    assert all(m["caption"] and m["headers"] for m in moved), moved


def test_print_keeps_every_column_and_figure_on_the_page(printed, printout):
    for table in printed.js(TABLES):
        assert not table["scrolls"], f"{table['table']} scrolls in print, so columns are lost"
        assert max(table["right"], table["cellsRight"]) <= PRINT_WIDTH + 0.5, table
        if table["height"] <= PRINT_HEIGHT:
            assert table["breakInside"] == "avoid", f"{table['table']} may be split across pages"
    for fig in printed.js(FIGURES):
        if fig["hidden"] or fig["height"] == 0 or ".explorable" in fig["figure"]:
            continue  # an explorable figure's frames are figures, each checked here
        assert max(fig["right"], fig["graphicsRight"]) <= PRINT_WIDTH + 0.5, fig
        assert fig["height"] <= PRINT_HEIGHT and fig["breakInside"] == "avoid", fig
    print(f"\nreport.pdf: {len(printout.pages)} A4 pages")


def _squeezed(text: str) -> str:
    """Text without any white space or ligatures (fi), to compare what a PDF's lines broke
    differently."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def test_the_printed_report_has_every_exercise(printed, printout):
    exercises = printed.js(
        """() => Array.from(document.querySelectorAll('details.exercises li, details.exercises > p'))
        .map(el => el.textContent)"""
    )
    assert exercises, "no exercises on the page"
    text = _squeezed("".join(printout.pages))
    missing = [e.strip()[:60] for e in exercises if _squeezed(e) not in text]
    assert missing == [], "exercises missing from the printed report"


def test_the_first_printed_page_holds_every_question_and_its_answer(printed, printout):
    first = printed.js(
        "() => Array.from(document.querySelectorAll('ol.answers p')).map(p => p.textContent)"
    )
    page = _squeezed(printout.pages[0])
    assert first and all(_squeezed(text)[:80] in page for text in first)


def test_no_printed_page_ends_with_a_heading_or_is_filled_40_percent_or_less(printed, printout):
    """Every page but the last is filled below 40% of its height (its lowest text, figures' text
    included; a page that draws an image counts as full) and ends with no heading."""
    headings = set(
        printed.js(
            """() => Array.from(document.querySelectorAll('h1, h2, h3, summary'))
            .map(h => h.innerText.trim()).filter(Boolean)"""
        )
    )
    ends, sparse = {}, {}
    for number, (text, images, fill) in enumerate(
        zip(printout.pages[:-1], printout.images[:-1], printout.fill[:-1], strict=True), 1
    ):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if fill <= 0.4 and not images:
            sparse[number] = (round(fill, 2), lines[:3])
        if lines and lines[-1] in headings:
            ends[number] = lines[-1]
    print(f"\nfilled: {[round(f, 2) for f in printout.fill]}")
    assert sparse == {}, "pages filled 40% or less"
    assert ends == {}, "pages that end with a heading"


def test_every_printed_link_shows_where_it_goes(printed, printout):
    hrefs = printed.js(
        """() => Array.from(document.querySelectorAll('main a[href], footer a[href]'))
        .filter(a => !a.getAttribute('href').startsWith('#') && a.checkVisibility())
        .map(a => a.getAttribute('href'))"""
    )
    text = _squeezed("".join(printout.pages))
    assert hrefs, "no link to a file on the page"
    missing = [href for href in hrefs if _squeezed(href) not in text]
    assert missing == [], "links printed without their target"


@pytest.mark.parametrize(
    "view,scheme", [(v, "light") for v in VIEWS] + [("phone", "dark"), ("desktop", "dark")]
)
def test_axe_finds_no_violation(open_report, view, scheme):
    opened = open_report(**VIEWS[view], scheme=scheme)
    violations = axe_violations(opened)
    assert violations == {}


# Code tokens whose colour contrast is the same as an earlier token's: the same classes, colours,
# font and opacity on the token and on each element around it up to <body>. axe's colour-contrast
# rule computes the same result for each of them, and they are most of a notebook page's text.
SAME_CONTRAST = """() => {
  const seen = new Set();
  for (const token of document.querySelectorAll('.highlight pre span')) {
    const key = [];
    for (let el = token; el && el !== document.body; el = el.parentElement) {
      const s = getComputedStyle(el);
      key.push(el.tagName, el.className, s.color, s.backgroundColor, s.backgroundImage,
               s.fontSize, s.fontWeight, s.opacity, s.textShadow, s.visibility);
    }
    const joined = key.join('|');
    token.toggleAttribute('data-same-contrast', seen.has(joined));  // marked afresh each run
    seen.add(joined);
  }
}"""


def axe_violations(opened, skip: list[str] = ()) -> dict[str, list]:
    """axe-core's violations on an opened page, any impact, with up to three elements each; the
    rules named in `skip` are not run. Colour contrast runs on its own, on the first code token of
    each look (`SAME_CONTRAST`): on a notebook page, that halves axe's time."""
    from axe_playwright_python.sync_playwright import Axe

    # A drawing inside a labelled role="img" is presentational (the label speaks for it); emptied, it
    # no longer makes axe walk its nodes.
    opened.js(
        "() => document.querySelectorAll('[role=img] > svg').forEach(svg => svg.replaceChildren())"
    )

    def run(**how) -> list[dict]:
        return Axe().run(opened.page, **how).response["violations"]

    off = {rule: {"enabled": False} for rule in [*skip, "color-contrast"]}
    violations = run(options={"resultTypes": ["violations"], "rules": off})
    if "color-contrast" not in skip:
        opened.js(SAME_CONTRAST)
        only = {"type": "rule", "values": ["color-contrast"]}
        violations += run(
            context={"exclude": [["[data-same-contrast]"]]},
            options={"resultTypes": ["violations"], "runOnly": only},
        )
    print(
        f"\naxe on {opened.url}: "
        + (
            ", ".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])})" for v in violations)
            or "no violation"
        )
    )
    return {v["id"]: [n["target"] for n in v["nodes"][:3]] for v in violations}


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


def test_an_explorable_figure_is_a_slider_on_screen_and_every_frame_in_print(open_report, printed):
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
    for fig in printed.js(EXPLORABLE):
        assert all(fig["shown"]), f"print hides a frame of {fig['id']}"
        controls = f"document.getElementById('{fig['id']}').querySelector('.frame-controls')"
        assert printed.js(f"() => getComputedStyle({controls}).display") == "none"


def test_each_inlined_drawing_looks_like_its_file(browser, report_file: Path):
    """The page's markup of each SVG figure (`render.page_svg`) draws what the file draws:
    screenshots of both, at the file's own size, differ in almost no pixel."""
    import io

    import numpy as np
    from PIL import Image

    from nnreg_keras import render

    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    differences = {}
    try:
        for path in sorted(report_file.parent.glob("runs/*/figures/*/*.svg")):
            svg = path.read_text(encoding="utf-8")
            shots = []
            for markup in (svg[svg.index("<svg") :], render.page_svg(svg)):
                page.set_content(f"<!DOCTYPE html><body style='margin: 0'>{markup}</body>")
                shot = Image.open(io.BytesIO(page.locator("svg").first.screenshot()))
                shots.append(np.asarray(shot.convert("RGB")).astype(int))
            assert shots[0].shape == shots[1].shape, path.name
            gap = np.abs(shots[0] - shots[1]).max(axis=2)
            differences[path.name] = (
                round(float(gap.mean()), 2),
                round(float(np.mean(gap > 40)), 4),
            )
    finally:
        page.close()
    assert differences, "no SVG figure"
    print(f"\nmean difference, share of pixels off by more than 40 of 255: {differences}")
    assert all(mean < 2 and off < 0.01 for mean, off in differences.values()), differences
