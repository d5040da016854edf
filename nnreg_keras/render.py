"""The one renderer of results: a table, a figure and a finding as HTML (and as plain text).

The notebook shows each piece through it as the piece is recorded (`nnreg_keras.recording`), and the
report's templates call the same functions (as Jinja globals), so a table, its number and its
caption read the same in the executed notebook and in the report. Every value is escaped here.
Numbering: tables in order; figures in order, the frames of one explorable figure sharing a number.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any

from nnreg_keras.formatting import number

STATUS_CLASS = {"held": "held", "did not hold": "not-held", "inconclusive": "inconclusive"}


def cell(value: Any) -> str:
    """A table cell as text: numbers by `formatting.number`, anything else as it is."""
    return (
        number(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else ("" if value is None else str(value))
    )


def _column(name: Any) -> str:
    """A column heading, escaped, with a break opportunity after each underscore."""
    return html.escape(str(name)).replace("_", "_<wbr>")


def _value(value: Any) -> str:
    """A cell, escaped; "mean ± sd" keeps "± sd" together when the cell wraps."""
    return html.escape(cell(value)).replace(" ± ", " ±\u00a0")


def _row(row: list[Any]) -> str:
    """A body row: its first cell names the row (a row header), the others are its values."""
    label, *values = row
    cells = "".join(f"<td>{_value(v)}</td>" for v in values)
    return f'<tr><th scope="row">{_value(label)}</th>{cells}</tr>\n'


def table_html(table: dict[str, Any], index: int) -> str:
    """Table `index` with its caption, in a labelled region that scrolls when it is too wide; the
    first column holds row headers, so a screen reader names the row of each value."""
    caption = html.escape(f"Table {index}. {table['caption']}", quote=True)
    head = "".join(f'<th scope="col">{_column(c)}</th>' for c in table["columns"])
    body = "".join(_row(row) for row in table["rows"])
    return (
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{caption}">\n'
        f"<table>\n<caption>{caption}</caption>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}</tbody>\n</table>\n</div>"
    )


def table_text(table: dict[str, Any], index: int) -> str:
    """The same table as aligned plain text."""
    rows = [[str(c) for c in table["columns"]]] + [[cell(v) for v in row] for row in table["rows"]]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return f"Table {index}. {table['caption']}\n" + "\n".join(
        lines[:1] + ["-" * len(lines[0])] + lines[1:]
    )


def compact_png(data: bytes) -> bytes:
    """A PNG with at most 256 colours (an adaptive palette), when that is smaller: a figure's few
    colours and their anti-aliasing survive, and the bytes shrink about four times."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except OSError:
        return data
    if image.mode not in ("RGB", "RGBA"):
        return data
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue() if len(out.getvalue()) < len(data) else data


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)  # the XML declaration and DOCTYPE
_METADATA = re.compile(r"<metadata\b.*?</metadata>\s*", re.S)
# matplotlib's style sheet for every element (`*{stroke-linejoin: round; stroke-linecap: butt}`):
# inline in a page it would style every element of the page, so it moves onto the drawing itself.
_UNIVERSAL = re.compile(r"<defs>\s*<style[^>]*>\s*\*\s*\{([^{}<]*)\}\s*</style>\s*</defs>\s*")
_EMBEDDED_PNG = re.compile(r'(xlink:href|href)="data:image/png;base64,([^"]*)"')


def page_svg(svg: str) -> str:
    """An SVG file as matplotlib saved it (`plots` keeps it small: text as text, dense layers as
    images, simplified paths), as markup to inline in a page: from `<svg` on, without metadata,
    with the style sheet for every element as attributes of the drawing, which its elements
    inherit, and embedded images with a palette (`compact_png`)."""
    svg = _METADATA.sub("", _PROLOG.sub("", svg, count=1))
    universal = _UNIVERSAL.search(svg)
    if universal:
        pairs = (item.split(":", 1) for item in universal[1].split(";") if ":" in item)
        attributes = "".join(f' {k.strip()}="{html.escape(v.strip())}"' for k, v in pairs)
        svg = _UNIVERSAL.sub("", svg, count=1).replace("<svg", "<svg" + attributes, 1)

    def palette(match: re.Match) -> str:
        data = compact_png(base64.b64decode("".join(match[2].split())))
        return f'{match[1]}="data:image/png;base64,{base64.b64encode(data).decode("ascii")}"'

    return _EMBEDDED_PNG.sub(palette, _without_bare_groups(svg))


_GEOMETRY = {"d", "x", "y", "transform", "points"}  # the drawing's own size stays exact
_DECIMALS = re.compile(r"(\d\.\d\d)\d+")


def _without_bare_groups(svg: str) -> str:
    """matplotlib wraps every artist in a group that only names it (`<g id="xtick_1">`) and writes
    coordinates to 1/1,000,000 of a point: the page keeps what those groups hold, without them,
    without the white space between elements, and coordinates to 1/100 of a point (a page of
    figures keeps about half its elements). A drawing that does not parse stays as it is."""
    from xml.etree import ElementTree

    ElementTree.register_namespace("", "http://www.w3.org/2000/svg")
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return svg

    def unwrap(element: Any) -> None:
        children = []
        for child in element:
            unwrap(child)
            bare = child.tag.endswith("}g") and set(child.attrib) <= {"id"}
            children.extend(child if bare else [child])
        element[:] = children
        for name in _GEOMETRY.intersection(element.attrib):  # to 1/100 of a point
            element.set(name, _DECIMALS.sub(r"\1", element.get(name)))
        if not element.tag.endswith("}text"):
            element.text = element.text if (element.text or "").strip() else None
            for child in element:
                child.tail = None

    unwrap(root)
    return ElementTree.tostring(root, encoding="unicode")


_LENGTH = re.compile(r'\b(width|height)="([\d.]+)(pt|px)?"')


def _size_style(svg: str) -> str:
    """The drawing's own width in CSS pixels and its height per width, as custom properties, so the page
    can reserve its box before drawing it (and skip drawing it while it is off screen)."""
    sizes = {
        name: float(value) * (4 / 3 if unit == "pt" else 1)
        for name, value, unit in _LENGTH.findall(svg[: svg.index(">")])
    }
    if not sizes.get("width") or not sizes.get("height"):
        return ""
    return f' style="--width: {round(sizes["width"])}px; --ratio: {sizes["height"] / sizes["width"]:.4f}"'


# The note `recording` writes into a PNG (a tEXt chunk): the size of its smallest text, in points.
SMALLEST_TEXT_KEY = "Smallest text (pt)"
_SMALLEST_TEXT = re.compile(re.escape(SMALLEST_TEXT_KEY).encode() + rb"\x00([\d.]+)")


def figure_markup(path: Path, alt: str) -> str:
    """A saved figure file as markup to embed, labelled with `alt`: inline SVG (its text stays text,
    findable and selectable), or a PNG data URI."""
    path = Path(path)
    return figure_markup_data(path.read_bytes(), path.suffix.lstrip("."), alt)


def figure_markup_data(data: bytes, fmt: str, alt: str) -> str:
    """A figure's bytes (`fmt` 'svg' or 'png') as markup to embed, labelled with `alt`."""
    label = html.escape(alt, quote=True)
    if fmt == "svg":
        text = data.decode("utf-8")
        svg = page_svg(text)
        try:
            size = _size_style(svg)
        except (ValueError, IndexError):  # no size on the drawing: the page gives it the column
            size = ""
        return f'<div class="svg" role="img" aria-label="{label}"{size}>{svg}</div>'
    encoded = base64.b64encode(compact_png(data)).decode("ascii")
    note = _SMALLEST_TEXT.search(data[:4096])  # a PNG's text is pixels: the recorder noted its size
    smallest = f' data-smallest-text="{float(note[1]):g}pt"' if note else ""
    return f'<img src="data:image/png;base64,{encoded}" alt="{label}"{smallest}>'


# Math as written in markdown: $$display$$, \\[display\\], \\(inline\\), and $inline$ where the
# opening $ is followed and the closing one preceded by a non-space, and no digit or word follows
# (so "costs $5 and $6" stays text; "Bernoulli$(1-\\delta)$" is a formula).
_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)"
    r"|(?<![\\$])\$(?=[^\s$])(?P<i2>[^$]*?[^\s$\\])\$(?![\w$])",
    re.S,
)
_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w:-]*)[^>]*?(/?)>")
# Where a $ is code or drawing, not math.
_VERBATIM = {"code", "pre", "kbd", "samp", "script", "style", "textarea", "svg", "math"}
_BARE_AMPERSAND = re.compile(r"&(?!#?\w+;)")


def mathml(latex: str, display: bool = False) -> str | None:
    """LaTeX as MathML, which browsers draw natively (no script, nothing fetched), or None when the
    converter cannot read it (the page then shows the source)."""
    from latex2mathml.converter import convert

    try:
        markup = convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any formula the converter cannot read stays as written
        return None
    return _BARE_AMPERSAND.sub("&amp;", markup)


def math_html(fragment: str) -> str:
    """HTML with every formula of its text ($...$, $$...$$, \\(...\\), \\[...\\]) as MathML; code,
    preformatted text and drawings are left as they are. The formula's text is HTML (entities are
    read back to characters first)."""
    if "$" not in fragment and "\\(" not in fragment and "\\[" not in fragment:
        return fragment
    out, verbatim = [], 0
    for part in _TAG.split(fragment):
        tag = _TAG_NAME.match(part) if part.startswith("<") else None
        if tag:
            if tag[2].lower() in _VERBATIM and not tag[3]:
                verbatim = max(0, verbatim + (-1 if tag[1] else 1))
            out.append(part)
        elif part.startswith("<") or verbatim:
            out.append(part)
        else:

            def convert(match: re.Match) -> str:
                display = match["d1"] is not None or match["d2"] is not None
                latex = next(g for g in match.groups() if g is not None)
                return mathml(html.unescape(latex), display) or match[0]

            out.append(_MATH.sub(convert, part))
    return "".join(out)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")


def first_sentence(text: str) -> tuple[str, str]:
    """A paragraph as its first sentence and the rest (a sentence ends at . ! or ? followed by a
    space and a capital: "0.5" and "e.g. a" do not end one)."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def figure_caption(caption: str, index: int, frame: str | None = None) -> str:
    """'Figure 3. caption', or for one frame of an explorable figure 'Figure 3 (frame). caption'."""
    label = f"Figure {index}" + (f" ({frame})" if frame else "")
    return f"{label}. {caption}"


def figure_links(href: str | None) -> str:
    """Links to a figure's own file, where there is one: opened full size, or downloaded."""
    if not href:
        return ""
    href = html.escape(href, quote=True)
    kind = Path(href).suffix.lstrip(".").upper()
    return (
        f' <span class="figure-links"><a class="full-size" href="{href}">Full size</a>'
        f' <a href="{href}" download>{kind} file</a></span>'
    )


def figure_html(markup: str, label: str, href: str | None = None, ident: str | None = None) -> str:
    """A figure block: the embedded file and its caption (`figure_caption` numbers it), with an id
    and links to the figure's file when the page can link it (`href`, relative to the page)."""
    opening = f'<figure id="{html.escape(ident, quote=True)}">' if ident else "<figure>"
    caption = html.escape(label) + figure_links(href)
    return f"{opening}\n{markup}\n<figcaption>{caption}</figcaption>\n</figure>"


def status(statement: dict[str, Any]) -> str:
    """'held', 'did not hold' or 'inconclusive'."""
    return statement["status"]


def status_class(statement: dict[str, Any]) -> str:
    """The CSS class of a finding's status."""
    return STATUS_CLASS[statement["status"]]


def finding_html(statement: dict[str, Any]) -> str:
    """A finding: its status badge and its sentence."""
    return f'<span class="status">{status(statement)}</span> {html.escape(statement["text"])}'


def comparisons_text(count: int) -> str:
    """How many comparisons a notebook's p-values are adjusted over, said beside its findings."""
    return (
        f"This notebook makes {count} comparison{'s' * (count != 1)}; their p-values are adjusted"
        " together (false discovery rate)."
    )


def comparisons_html(count: int) -> str:
    """`comparisons_text` as the notebook and the report show it, under the findings."""
    return f'<p class="muted">{comparisons_text(count)}</p>'


def statement_text(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as one line of plain text."""
    label = "Verdict" if kind == "verdict" else f"Finding ({status(statement)})"
    return f"{label}: {statement['text']}"


def statement_html(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as a paragraph, as the notebook shows it."""
    if kind == "verdict":
        return f'<p class="verdict"><strong>Verdict:</strong> {html.escape(statement["text"])}</p>'
    return f'<p class="finding {status_class(statement)}">{finding_html(statement)}</p>'
