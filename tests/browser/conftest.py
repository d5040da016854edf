"""A real Chromium over the quick-profile report: the browser, the built page, and pages opened on it.

The tests run when a Chromium and the Playwright bindings are installed and skip otherwise, saying
which one is missing; with NNREG_REQUIRE_BROWSER=1 (as in CI) a missing browser fails instead.
Set NNREG_CHROMIUM to use a Chromium other than the one on PATH, and NNREG_BROWSER_REPORTS=DIR to
check a reports directory already built (its index.html is rebuilt) instead of running the notebooks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nnreg_keras.pipeline import report
from tests.conftest import ROOT, once_per_run, run_temp

SCREENSHOTS = ROOT / "reports" / "screenshots"
# The screens the report is checked on: a phone and a tablet (touch, overlay scrollbars), a laptop.
VIEWS = {
    "phone": {"width": 390, "height": 844, "mobile": True},
    "tablet": {"width": 768, "height": 1024, "mobile": True},
    "desktop": {"width": 1280, "height": 800},
}
# A4 with 15 mm margins, in CSS pixels (96 per inch): the width and height a printed page lays out in.
PRINT_MARGIN_MM = 15
PRINT_WIDTH = (210 - 2 * PRINT_MARGIN_MM) / 25.4 * 96
PRINT_HEIGHT = (297 - 2 * PRINT_MARGIN_MM) / 25.4 * 96
# Keep Chromium from reaching out on its own, so any request the page makes is the page's doing.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-sandbox",
]


def unavailable(reason: str) -> None:
    """Skip, or fail when NNREG_REQUIRE_BROWSER=1 says the browser tests must run."""
    if os.environ.get("NNREG_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"{reason}, and NNREG_REQUIRE_BROWSER=1 requires the browser tests to run",
            pytrace=False,
        )
    pytest.skip(reason)


def chromium_path() -> str | None:
    """NNREG_CHROMIUM if set, else the first Chromium on PATH."""
    if os.environ.get("NNREG_CHROMIUM"):
        return os.environ["NNREG_CHROMIUM"]
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(
            "the Playwright Python package is not installed (it is in the dev extra and requirements.txt)"
        )
    path = chromium_path()
    if path is None:
        unavailable("no Chromium on PATH (Debian: apt-get install chromium; or set NNREG_CHROMIUM)")
    with sync_playwright() as playwright:
        # Real scrollbars, as on a desktop, so a scrollable table shows that it scrolls.
        chromium = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, ignore_default_args=["--hide-scrollbars"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def report_file(browser, request, tmp_path_factory) -> Path:
    """index.html of the quick run (after the browser, so a missing one skips before the run), or of
    the reports directory NNREG_BROWSER_REPORTS names (one already built, e.g. the default profile's),
    built once per test run."""
    given = os.environ.get("NNREG_BROWSER_REPORTS")
    reports = Path(given).resolve() if given else request.getfixturevalue("quick_reports")
    once_per_run(run_temp(tmp_path_factory), "report", lambda _: report.build(reports))
    return reports / "index.html"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`--dist loadgroup`), each file of the browser suite runs on one worker,
    which opens its pages once."""
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group(f"browser-{item.path.stem}"))


@dataclass
class OpenedPage:
    """A page showing the report, with what it logged and requested since it opened."""

    page: Any
    url: str
    console_errors: list[str] = field(default_factory=list)
    other_requests: list[str] = field(default_factory=list)

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def settle(self, predicate: str, arg: Any = None, seconds: float = 5) -> None:
        """Wait until the JavaScript `predicate(arg)` is true, at most `seconds` (a busy machine
        paints late); on a timeout return anyway, for the test's own assertion to say what it found."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(predicate, arg=arg, timeout=seconds * 1000)
        except PlaywrightTimeout:
            pass


@pytest.fixture(scope="session")
def open_page(browser, report_file: Path) -> Iterator[Callable[..., OpenedPage]]:
    """Opens a page of the report's directory (the report itself by default) at a viewport width,
    in screen or print media and a light or dark colour scheme; blocks every other request.

    The report opens anew on each call (tests scroll it, click it, resize it). A notebook's page
    opens once per view and is shared by the tests that ask for it in that view: they only read
    it, and a browser holding a page per test and view (200 of them) slows down as they pile up.
    The pages of one view share a browser context (the pages store nothing): a context per page
    cost 6.5 s of CPU for ten notebook pages, one context 2.5 s."""
    contexts, shared = {}, {}

    def opener(
        width: int,
        media: str = "screen",
        height: int = 900,
        mobile: bool = False,
        scheme: str = "light",
        path: Path | None = None,
    ) -> OpenedPage:
        key = (width, media, height, mobile, scheme, path)
        if path is not None and key in shared:
            return shared[key]
        view = (width, height, mobile, scheme)
        if view not in contexts:
            contexts[view] = browser.new_context(
                viewport={"width": width, "height": height},
                is_mobile=mobile,
                has_touch=mobile,
                color_scheme=scheme,
                service_workers="block",
            )
        page = contexts[view].new_page()
        opened = OpenedPage(page, (path or report_file).as_uri())
        page.on(
            "console",
            lambda msg: opened.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda err: opened.console_errors.append(str(err)))
        page.on(
            "request",
            lambda req: (
                None
                if req.url == opened.url or req.url.startswith("data:")
                else opened.other_requests.append(req.url)
            ),
        )
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url == opened.url else route.abort(),
        )
        page.emulate_media(media=media)
        page.goto(opened.url, wait_until="load")
        if path is not None:
            shared[key] = opened
        return opened

    yield opener
    for context in contexts.values():
        context.close()


@pytest.fixture(scope="session")
def open_report(open_page) -> Callable[..., OpenedPage]:
    """Opens the report (see `open_page`)."""
    return lambda *args, **kwargs: open_page(*args, path=None, **kwargs)


@pytest.fixture(scope="session")
def desktop(open_report) -> OpenedPage:
    return open_report(**VIEWS["desktop"])


@pytest.fixture(scope="session")
def tablet(open_report) -> OpenedPage:
    return open_report(**VIEWS["tablet"])


@pytest.fixture(scope="session")
def phone(open_report) -> OpenedPage:
    return open_report(**VIEWS["phone"])


@pytest.fixture(scope="session")
def printed(open_report) -> OpenedPage:
    """The report laid out as on A4 paper (print media, the printed page's width)."""
    return open_report(round(PRINT_WIDTH), media="print", height=round(PRINT_HEIGHT))


@dataclass
class Printout:
    """The report printed to A4: the PDF's bytes, the text of each of its pages, how many raster
    images each page draws (a figure drawn as an image holds no text) and how full each page is."""

    pdf: bytes
    pages: list[str]
    images: list[int]
    fill: list[float]  # how far down each page its lowest text reaches, as a share of its text area


@pytest.fixture(scope="session")
def printout(printed) -> Printout:
    """The report printed to A4 with 15 mm margins, saved as reports/screenshots/report.pdf."""
    import io

    from pypdf import PdfReader

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    margin = f"{PRINT_MARGIN_MM}mm"
    pdf = printed.page.pdf(
        path=SCREENSHOTS / "report.pdf",
        format="A4",
        margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
    )
    pages = PdfReader(io.BytesIO(pdf)).pages
    return Printout(
        pdf,
        [page.extract_text() for page in pages],
        [len(page.images) for page in pages],
        [_fill(page) for page in pages],
    )


def _fill(page: Any) -> float:
    """How far down its text area a PDF page's lowest text reaches (0 empty, 1 full): each piece of
    text is placed by its text matrix times the current transformation matrix."""
    margin = PRINT_MARGIN_MM / 25.4 * 72
    top, bottom = float(page.mediabox.top) - margin, float(page.mediabox.bottom) + margin
    lowest = [top]

    def visit(text: str, cm: list, tm: list, font: Any, size: float) -> None:
        if text.strip():
            lowest.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])

    page.extract_text(visitor_text=visit)
    return (top - min(lowest)) / (top - bottom)


@pytest.fixture(scope="session")
def notebook_pages(report_file: Path) -> list[Path]:
    """The executed notebooks' HTML pages that the report links."""
    pages = sorted(report_file.parent.glob("runs/*/notebooks/*.html"))
    assert pages, "the run wrote no executed-notebook page"
    return pages
