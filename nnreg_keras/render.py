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


SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
# Attributes that hold coordinates, which matplotlib writes to 6 decimals of a point.
GEOMETRY = ("d", "x", "y", "width", "height", "transform", "points", "viewBox")
_DECIMALS = re.compile(r"(\d+\.\d\d)\d+")


def _compact(element: Any) -> None:
    """Compact an SVG element's subtree in place (see `compact_svg`)."""
    children = []
    for child in element:
        _compact(child)
        if child.tag == f"{{{SVG}}}metadata":
            continue
        if child.tag == f"{{{SVG}}}g" and set(child.attrib) <= {"id"}:
            children.extend(child)  # a group that only names its members: its members
        else:
            children.append(child)
    element[:] = children
    if element.tag != f"{{{SVG}}}text":
        for child in element:
            child.tail = None  # indentation between elements
        if element.text is not None and not element.text.strip():
            element.text = None
    for name in GEOMETRY:
        if name in element.attrib:
            element.attrib[name] = " ".join(_DECIMALS.sub(r"\1", element.attrib[name]).split())
    href = f"{{{XLINK}}}href"
    if element.tag == f"{{{SVG}}}image" and element.get(href, "").startswith("data:image/png"):
        data = compact_png(base64.b64decode("".join(element.get(href).split(",", 1)[1].split())))
        element.set(href, "data:image/png;base64," + base64.b64encode(data).decode("ascii"))


def compact_svg(svg: str) -> str:
    """An SVG drawing (as matplotlib writes it) as lighter markup that draws the same: no XML prolog
    or metadata, no groups that only carry a name, no white space between elements, coordinates to
    1/100 of a point, embedded images with a palette (`compact_png`). Text is left as it is."""
    from xml.etree import ElementTree

    ElementTree.register_namespace("", SVG)
    ElementTree.register_namespace("xlink", XLINK)
    try:
        root = ElementTree.fromstring(svg.encode("utf-8"))
    except ElementTree.ParseError:  # not matplotlib's: embedded as it is, from <svg on
        return svg[svg.index("<svg") :]
    _compact(root)
    return ElementTree.tostring(root, encoding="unicode")


def figure_markup(path: Path, alt: str) -> str:
    """A saved figure file as markup to embed, labelled with `alt`: inline SVG (its text stays text,
    findable and selectable), or a PNG data URI."""
    path = Path(path)
    label = html.escape(alt, quote=True)
    if path.suffix == ".svg":
        svg = compact_svg(path.read_text(encoding="utf-8"))
        return f'<div class="svg" role="img" aria-label="{label}">{svg}</div>'
    data = base64.b64encode(compact_png(path.read_bytes())).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{label}">'


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


def wording(statement: dict[str, Any]) -> str:
    """A statement's text (the earlier two-wording form: the one that applies)."""
    if "alternative" in statement and not statement.get("held"):
        return statement["alternative"]
    return statement["text"]


def status(statement: dict[str, Any]) -> str:
    """'held', 'did not hold' or 'inconclusive'."""
    return statement["status"]


def status_class(statement: dict[str, Any]) -> str:
    """The CSS class of a finding's status."""
    return STATUS_CLASS[statement["status"]]


def finding_html(statement: dict[str, Any]) -> str:
    """A finding: its status badge and its applicable wording."""
    return f'<span class="status">{status(statement)}</span> {html.escape(wording(statement))}'


def statement_text(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as one line of plain text."""
    label = "Verdict" if kind == "verdict" else f"Finding ({status(statement)})"
    return f"{label}: {wording(statement)}"


def statement_html(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as a paragraph, as the notebook shows it."""
    if kind == "verdict":
        return f'<p class="verdict"><strong>Verdict:</strong> {html.escape(wording(statement))}</p>'
    return f'<p class="finding {status_class(statement)}">{finding_html(statement)}</p>'
