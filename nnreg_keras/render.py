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
HREF = f"{{{XLINK}}}href"
# Attributes that hold coordinates, which matplotlib writes to 6 decimals of a point.
GEOMETRY = ("d", "x", "y", "width", "height", "transform", "points", "viewBox")
_DECIMALS = re.compile(r"(\d+)\.(\d{1,2})\d*")
_NO_TURN = re.compile(r"^rotate\(-?0(\.0+)?( [^)]*)?\)$")  # matplotlib turns each label by 0°


def _short(match: re.Match) -> str:
    """A coordinate to 1/100 of a point, without trailing zeros."""
    decimals = match[2].rstrip("0")
    return f"{match[1]}.{decimals}" if decimals else match[1]


_UNIVERSAL = re.compile(r"^\s*\*\s*\{([^{}]*)\}\s*$")  # matplotlib's *{stroke-linejoin: round}
_PATH_TOKEN = re.compile(r"[A-Za-z]|-?\d*\.?\d+(?:e[-+]?\d+)?")
_REFERENCE = re.compile(r"#([\w.-]+)")


def _name(element: Any) -> str:
    """An element's tag without its namespace."""
    return element.tag.rsplit("}", 1)[-1]


def _style(text: str) -> dict[str, str]:
    """A style attribute's declarations."""
    pairs = (item.split(":", 1) for item in text.split(";") if ":" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _set_style(element: Any, style: dict[str, str]) -> None:
    """Write declarations as an element's style attribute (none when there are none)."""
    if style:
        element.set("style", "; ".join(f"{k}: {v}" for k, v in style.items()))
    else:
        element.attrib.pop("style", None)


def _number(value: float) -> str:
    """A coordinate to 1/100 of a point, without trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _relative(d: str) -> tuple[float, float, str] | None:
    """Path data as its first point and the rest in relative commands (the same for every copy of
    a mark, wherever it is drawn), or None for data that does not start with M or has commands
    other than M, L, Q, C and z (the absolute commands matplotlib writes)."""
    tokens = _PATH_TOKEN.findall(d)
    if _PATH_TOKEN.sub("", d).strip(" ,\n") or not set(filter(str.isalpha, tokens)) <= set("MLQCz"):
        return None
    commands: list[tuple[str, list[float]]] = []
    for token in tokens:
        if token.isalpha():
            commands.append((token, []))
        elif commands:
            commands[-1][1].append(float(token))
    if not commands or commands[0][0] != "M" or len(commands[0][1]) != 2:
        return None
    (x, y), start, out = commands[0][1], commands[0][1], []
    for command, numbers in commands[1:]:
        if command == "z":
            out.append("z")
            x, y = start
            continue
        points = list(zip(numbers[0::2], numbers[1::2], strict=True))
        out.append(
            command.lower()
            + " "
            + " ".join(f"{_number(px - x)} {_number(py - y)}" for px, py in points)
        )
        x, y = points[-1]
        if command == "M":
            start = (x, y)
    return commands[0][1][0], commands[0][1][1], " ".join(out)


def _moved(mark: tuple[float, float, str], dx: float, dy: float) -> str:
    """A copy of a mark (`_relative`) drawn at (dx, dy)."""
    x, y, rest = mark
    return f"M {_number(x + dx)} {_number(y + dy)} {rest}".rstrip()


def _only_text(element: Any) -> bool:
    """Text, or a group of text only (a label in mathtext): it touches none of the marks around it."""
    names = {_name(e) for e in element.iter()}
    return "text" in names and names <= {"text", "tspan", "g"}


def _restructure(element: Any, root: Any) -> None:
    """Drop metadata; lift matplotlib's style sheet for every element to the root (inline in a page
    it would style every element of the page); unwrap groups that only carry a name, or a clip path
    for one member; merge consecutive groups that only share a clip path."""
    for child in element:
        _restructure(child, root)
    children: list[Any] = []
    for child in element:
        name = _name(child)
        universal = _UNIVERSAL.match(child.text or "") if name == "style" else None
        if name == "metadata":
            continue
        if universal:
            for key, value in _style(universal[1]).items():
                root.set(key, value)
            continue
        if name == "g" and set(child.attrib) <= {"id"}:
            children.extend(child)
        elif (
            name == "g"
            and set(child.attrib) == {"clip-path"}
            and children
            and _name(children[-1]) == "g"
            and children[-1].attrib == child.attrib
        ):
            children[-1].extend(child)
        else:
            children.append(child)
    for i, child in enumerate(children):
        lone = len(child) == 1 and not {"clip-path", "transform"} & set(child[0].attrib)
        if _name(child) == "g" and set(child.attrib) == {"clip-path"} and lone:
            child[0].set("clip-path", child.get("clip-path"))  # one member clips itself
            children[i] = child[0]
    element[:] = children


def _merge_marks(element: Any, marks: dict[str, Any]) -> None:
    """Runs of <use> of one mark in one style (an axis's ticks, a line's markers, the points of a
    small scatter) as one <path> holding every copy; text between them keeps the run going."""
    for child in element:
        _merge_marks(child, marks)
    children: list[Any] = []
    run: tuple[tuple, Any] | None = None
    for child in element:
        mark = marks.get(child.get(HREF, "#")[1:]) if _name(child) == "use" else None
        relative = _relative(mark.get("d", "")) if mark is not None else None
        if relative is not None and set(child.attrib) <= {HREF, "x", "y", "style", "clip-path"}:
            d = _moved(relative, float(child.get("x", 0)), float(child.get("y", 0)))
            if d:
                key = (child.get(HREF), child.get("style"), child.get("clip-path"))
                if run is not None and run[0] == key:
                    run[1].set("d", f"{run[1].get('d')} {d}")
                    continue
                style = {**_style(child.get("style", "")), **_style(mark.get("style", ""))}
                path = child.makeelement(f"{{{SVG}}}path", {"d": d})
                _set_style(path, style)
                if child.get("clip-path"):
                    path.set("clip-path", child.get("clip-path"))
                children.append(path)
                run = (key, path)
                continue
        if not _only_text(child):
            run = None
        children.append(child)
    element[:] = children


def _box(d: str) -> tuple[float, float, float, float] | None:
    """The bounding box of path data's points (a box that holds its curves too), or None when
    the data has commands other than M, L, Q, C and z."""
    tokens = _PATH_TOKEN.findall(d)
    if not set(filter(str.isalpha, tokens)) <= set("MLQCz"):
        return None
    numbers = [float(t) for t in tokens if not t.isalpha()]
    xs, ys = numbers[0::2], numbers[1::2]
    return (min(xs), min(ys), max(xs), max(ys)) if xs and ys else None


def _apart(a: tuple, b: tuple) -> bool:
    """Whether two boxes share no area (touching edges are apart)."""
    return a[2] <= b[0] + 0.01 or b[2] <= a[0] + 0.01 or a[3] <= b[1] + 0.01 or b[3] <= a[1] + 0.01


def _merge_paths(element: Any) -> None:
    """Consecutive paths that differ only in their data, drawn in one opaque style, as one path:
    lines always, filled shapes (bars) only while none overlaps another, so nothing is painted
    differently."""
    for child in element:
        _merge_paths(child)
    children: list[Any] = []
    boxes: list[tuple] = []
    for child in element:
        previous = children[-1] if children else None
        same = (
            previous is not None
            and _name(child) == _name(previous) == "path"
            and {k: v for k, v in child.attrib.items() if k != "d"}
            == {k: v for k, v in previous.attrib.items() if k != "d"}
            and "id" not in child.attrib
            and "opacity" not in child.get("style", "")
        )
        if same:
            stroked = _style(child.get("style", "")).get("fill") == "none"
            box = _box(child.get("d", ""))
            if stroked or (box is not None and boxes and all(_apart(box, b) for b in boxes)):
                previous.set("d", f"{previous.get('d')} {child.get('d')}")
                boxes.append(box)
                continue
        children.append(child)
        boxes = (
            [b for b in [_box(child.get("d", ""))] if b is not None]
            if _name(child) == "path"
            else []
        )
    element[:] = children


def _finish(element: Any, used: set[str]) -> None:
    """Drop definitions nothing uses any more and the white space between elements; cut
    coordinates to 1/100 of a point; give embedded PNGs a palette (`compact_png`)."""
    for child in element:
        _finish(child, used)
    if _name(element) == "defs":
        element[:] = [c for c in element if c.get("id") is None or c.get("id") in used]
    element[:] = [c for c in element if not (_name(c) == "defs" and len(c) == 0)]
    if _name(element) != "text":
        for child in element:
            child.tail = None
        if element.text is not None and not element.text.strip():
            element.text = None
    if _NO_TURN.match(element.get("transform", "")):
        del element.attrib["transform"]
    for name in GEOMETRY:
        if name in element.attrib:
            element.attrib[name] = " ".join(_DECIMALS.sub(_short, element.attrib[name]).split())
    if _name(element) == "image" and element.get(HREF, "").startswith("data:image/png"):
        data = compact_png(base64.b64decode("".join(element.get(HREF).split(",", 1)[1].split())))
        element.set(HREF, "data:image/png;base64," + base64.b64encode(data).decode("ascii"))


def compact_svg(svg: str) -> str:
    """An SVG drawing (as matplotlib writes it) as lighter markup that draws the same: no XML prolog
    or metadata, no groups that only carry a name, repeated marks (ticks, markers) and runs of
    paths in one style (lines, bars side by side) as one path each, no white space between elements, coordinates to 1/100 of a point, embedded images with a
    palette, and matplotlib's style sheet for every element as attributes its elements inherit
    from the drawing. Text is left as it is: a page keeps about a tenth of the elements."""
    from xml.etree import ElementTree

    ElementTree.register_namespace("", SVG)
    ElementTree.register_namespace("xlink", XLINK)
    try:
        root = ElementTree.fromstring(svg.encode("utf-8"))
    except ElementTree.ParseError:  # not matplotlib's: embedded as it is, from <svg on
        return svg[svg.index("<svg") :]
    marks = {p.get("id"): p for p in root.iter(f"{{{SVG}}}path") if p.get("id")}
    _restructure(root, root)
    _merge_marks(root, marks)
    _merge_paths(root)
    used = {
        ref
        for e in root.iter()
        for key, value in e.attrib.items()
        if key in (HREF, "clip-path", "style", "mask", "filter", "fill", "stroke")
        for ref in _REFERENCE.findall(value)
    }
    _finish(root, used)
    _lift_font(root)
    return ElementTree.tostring(root, encoding="unicode")


def _lift_font(root: Any) -> None:
    """The font family every text element names, named once on the drawing (they inherit it)."""
    texts = [e for e in root.iter(f"{{{SVG}}}text") if "font-family" in _style(e.get("style", ""))]
    families = {_style(e.get("style", ""))["font-family"] for e in texts}
    if len(families) != 1:
        return
    root.set("font-family", families.pop())
    for text in texts:
        _set_style(
            text, {k: v for k, v in _style(text.get("style", "")).items() if k != "font-family"}
        )


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
        try:
            svg = compact_svg(text)
            size = _size_style(svg)
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError):
            # Not a drawing compaction understands: embedded as it is, from <svg on.
            svg, size = text[text.find("<svg") :] if "<svg" in text else text, ""
        return f'<div class="svg" role="img" aria-label="{label}"{size}>{svg}</div>'
    encoded = base64.b64encode(compact_png(data)).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{label}">'


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


def statement_text(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as one line of plain text."""
    label = "Verdict" if kind == "verdict" else f"Finding ({status(statement)})"
    return f"{label}: {statement['text']}"


def statement_html(statement: dict[str, Any], kind: str) -> str:
    """A finding or the verdict as a paragraph, as the notebook shows it."""
    if kind == "verdict":
        return f'<p class="verdict"><strong>Verdict:</strong> {html.escape(statement["text"])}</p>'
    return f'<p class="finding {status_class(statement)}">{finding_html(statement)}</p>'
