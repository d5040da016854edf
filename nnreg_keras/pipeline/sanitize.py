"""HTML that runs nothing and fetches nothing: the executed-notebook pages and inlined figures.

A notebook's outputs and markdown cells may hold any HTML: a parameter string shown in an output,
a raw `<script>` or `<iframe>` in a markdown cell, an image from the web. nbconvert passes it all
through; the report escapes such text. `page` rewrites an HTML page to the report's rule: no
script, no event handler (`onerror=`, `onload=`), no `javascript:` link, and no resource from
anywhere but the page itself (`src`, `href` of an SVG `<use>`, CSS `url()` and `@import`: only
`data:` and `#fragment` references stay). Links to follow (`<a href="https://...">`) stay.

The page is parsed and written out again, so every tag in the result is one this module wrote with
its attributes escaped; text is escaped; comments are dropped; CSS loses every `<` (inside an SVG,
a `<style>` element's text is parsed as markup).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Elements dropped with their tags (their content, if any, stays as text and markup); script's
# content goes too. animate and set can rewrite an SVG link's href into a javascript: URL.
DROPPED = frozenset(
    """
    script iframe frame frameset object embed applet base link portal animate set
    animatemotion animatetransform discard handler listener
    """.split()
)
# Attributes whose value is a URL the browser follows only when clicked (on <a> and <area>).
LINKS = {"href", "xlink:href"}
LINK_ELEMENTS = {"a", "area"}
LINK_SCHEMES = {"http", "https", "mailto"}
# Attributes whose value is a URL the browser loads by itself, or that send requests.
RESOURCES = frozenset(
    """
    src href xlink:href lowsrc dynsrc poster background data codebase cite longdesc usemap
    manifest profile classid icon archive
    """.split()
)
ALWAYS_DROPPED = {"srcset", "imagesrcset", "ping", "action", "formaction", "srcdoc", "http-equiv"}
_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9_:.]*\Z")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f]+")  # browsers skip these in a URL's scheme
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")

# CSS: an escape, a name made of name characters and escapes, and the functions that fetch.
_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}[ \t\r\n\f]?|[^\r\n\f0-9a-fA-F])"
# Non-ASCII characters count as separators here (a browser may read them as part of a name): a
# name is split more often than a browser splits it, so every url( a browser sees is seen here.
_TOKEN = re.compile(rf"(@?)((?:[-_a-zA-Z0-9]|{_ESCAPE})+)(\(?)")
_FETCHING = {"url", "src"}  # their argument is a URL
# Functions that fetch or compute from elsewhere: each is replaced by `none`.
_REMOVED_FUNCTIONS = frozenset(
    """
    image image-set -webkit-image-set cross-fade -webkit-cross-fade element -moz-element
    expression paint
    """.split()
)


def _unescape_css(text: str) -> str:
    def one(match: re.Match) -> str:
        body = match.group(0)[1:].rstrip(" \t\r\n\f")
        if re.fullmatch(r"[0-9a-fA-F]{1,6}", body):
            code = int(body, 16)
            return (
                "\ufffd" if code == 0 or code > 0x10FFFF or 0xD800 <= code < 0xE000 else chr(code)
            )
        return body

    return re.sub(_ESCAPE, one, text)


def _closing(text: str, start: int) -> int:
    """The index just past the `)` that closes a function whose argument starts at `start`."""
    quote, i = None, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ")":
            return i + 1
        i += 1
    return len(text)


def _local_reference(url: str) -> bool:
    """A data: URL or a #fragment of the page: nothing is fetched."""
    url = _IGNORED_IN_URLS.sub("", url).lower()
    return url.startswith(("data:", "#"))


def css(text: str) -> str:
    """CSS that fetches nothing: each url() or src() that is not data: or #fragment, and each
    image or expression function, becomes `none`; @import rules go; `<` goes."""
    text = text.replace("<", "")
    out, position = [], 0
    while True:
        match = _TOKEN.search(text, position)
        if not match:
            break
        at, name, paren = match.group(1), _unescape_css(match.group(2)).lower(), match.group(3)
        out.append(text[position : match.start()])
        position = match.end()
        if at and name == "import":
            end = text.find(";", position)
            position = len(text) if end < 0 else end + 1
        elif paren and name in _FETCHING | _REMOVED_FUNCTIONS:
            end = _closing(text, position)
            argument = _unescape_css(text[position : end - 1]).strip().strip("\"'")
            keep = name in _FETCHING and _local_reference(argument)
            out.append(match.group(0) + text[position:end] if keep else "none")
            position = end
        else:
            out.append(match.group(0))
    out.append(text[position:])
    return "".join(out)


_RASTER = re.compile(r"data:image/(png|jpeg|jpg|gif|webp|bmp)[;,]")


def _allowed_url(value: str, element: str, attribute: str) -> bool:
    """A link to follow (http, https, mailto or a path of the page's site) on <a> and <area>;
    elsewhere a #fragment, or an image in a data: URL (any image for <img>, which runs nothing;
    a raster image for an SVG <image> or <use>)."""
    url = _IGNORED_IN_URLS.sub("", value).lower().replace("\\", "/")
    if element in LINK_ELEMENTS and attribute in LINKS:
        scheme = _SCHEME.match(url)
        return scheme.group(1) in LINK_SCHEMES if scheme else not url.startswith("//")
    if url.startswith("#") or (element == "img" and url.startswith("data:image/")):
        return True
    return _RASTER.match(url) is not None


def _attributes(element: str, attributes: list[tuple[str, str | None]]) -> str:
    kept = []
    for name, value in attributes:
        if not _NAME.match(name) or name.startswith("on") or name in ALWAYS_DROPPED:
            continue
        if value is None:
            if name not in RESOURCES:
                kept.append(f" {name}")
            continue
        if name in RESOURCES:
            if not _allowed_url(value, element, name):
                continue
        elif name == "style" or "url" in value.lower() or "\\" in value:
            value = css(value)  # a style, or a presentation attribute such as fill="url(#g)"
        kept.append(f' {name}="{html.escape(value, quote=True)}"')
    return "".join(kept)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.raw: str | None = None  # inside script (dropped) or style (kept as CSS, sanitized)
        self.style: list[str] = []  # a style element's text, sanitized whole at its end tag

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if tag in ("script", "style") and not closed:
            self.raw = tag
        if tag in DROPPED or not _NAME.match(tag):
            return
        if tag == "meta" and any(name == "http-equiv" for name, _ in attrs):
            return  # a refresh or a policy, not a description of the page
        self.out.append(f"<{tag}{_attributes(tag, attrs)}{' /' if closed else ''}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def flush_style(self) -> None:
        if self.style:
            self.out.append(css("".join(self.style)))
            self.style = []

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw:
            self.flush_style()
            self.raw = None
        if tag not in DROPPED and _NAME.match(tag):
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.raw == "style":
            self.style.append(data)  # the parser may hand a text over in pieces
        elif self.raw != "script":
            self.out.append(html.escape(data, quote=False))

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.out.append("<!DOCTYPE html>")

    # Comments, processing instructions and CDATA sections are dropped.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def page(text: str) -> str:
    """An HTML page (or any part of one) rewritten so that it runs nothing and fetches nothing."""
    sanitizer = _Sanitizer()
    sanitizer.feed(text)
    sanitizer.close()
    sanitizer.flush_style()
    return "".join(sanitizer.out)


fragment = page  # a figure's markup, a rendered markdown cell: the same rule
