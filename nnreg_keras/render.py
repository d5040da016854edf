"""The one renderer of results: a table, a figure and a finding as HTML (and as plain text).

The notebook shows each piece through it as the piece is recorded (`nnreg_keras.recording`), and the
report's templates call the same functions (as Jinja globals), so a table, its number and its
caption read the same in the executed notebook and in the report. Every value is escaped here.
Numbering: tables in order; figures in order, the frames of one explorable figure sharing a number.
"""

from __future__ import annotations

import base64
import html
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


def table_html(table: dict[str, Any], index: int) -> str:
    """Table `index` with its caption, in a labelled region that scrolls when it is too wide."""
    caption = html.escape(f"Table {index}. {table['caption']}", quote=True)
    head = "".join(f'<th scope="col">{_column(c)}</th>' for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{_value(v)}</td>" for v in row) + "</tr>\n" for row in table["rows"]
    )
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


def figure_markup(path: Path, alt: str) -> str:
    """A saved figure file as markup to embed, labelled with `alt`: inline SVG, or a PNG data URI."""
    path = Path(path)
    return figure_markup_data(path.read_bytes(), path.suffix.lstrip("."), alt)


def figure_markup_data(data: bytes, fmt: str, alt: str) -> str:
    """A figure's bytes (`fmt` 'svg' or 'png') as markup to embed, labelled with `alt`."""
    label = html.escape(alt, quote=True)
    if fmt == "svg":
        svg = data.decode("utf-8")
        svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE
        return f'<div class="svg" role="img" aria-label="{label}">{svg}</div>'
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{label}">'


def figure_caption(caption: str, index: int, frame: str | None = None) -> str:
    """'Figure 3. caption', or for one frame of an explorable figure 'Figure 3 (frame). caption'."""
    label = f"Figure {index}" + (f" ({frame})" if frame else "")
    return f"{label}. {caption}"


def figure_html(markup: str, label: str) -> str:
    """A figure block: the embedded file and its caption (`figure_caption` numbers it)."""
    return f"<figure>\n{markup}\n<figcaption>{html.escape(label)}</figcaption>\n</figure>"


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
