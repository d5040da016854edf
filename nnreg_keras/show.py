"""Showing results inline in a notebook as they are recorded: tables as tables, figures as images,
findings as sentences with their status. Each output carries a plain-text version too, so no cell
ever shows an object's repr. Outside IPython (a script, the tests) nothing is shown."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from nnreg_keras.formatting import number

STATUS = {True: "held", False: "did not hold"}


def _display(bundle: dict[str, str]) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(bundle, raw=True)


def cell(value: Any) -> str:
    """A table cell as text: numbers by `formatting.number`, anything else as it is."""
    return (
        number(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else ("" if value is None else str(value))
    )


def table_html(table: dict[str, Any], number: int) -> str:
    """A recorded table as a small HTML table with its caption."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell(v))}</td>" for v in row) + "</tr>" for row in table["rows"]
    )
    return (
        f"<table><caption>Table {number}. {esc(table['caption'])}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def table_text(table: dict[str, Any], number: int) -> str:
    """The same table as aligned plain text."""
    rows = [[str(c) for c in table["columns"]]] + [[cell(v) for v in row] for row in table["rows"]]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return f"Table {number}. {table['caption']}\n" + "\n".join(
        lines[:1] + ["-" * len(lines[0])] + lines[1:]
    )


def table(table: dict[str, Any], number: int) -> None:
    _display({"text/html": table_html(table, number), "text/plain": table_text(table, number)})


def figure(path: Path, caption: str, alt: str, number: int) -> None:
    """The saved figure file itself (so what the notebook shows is what the report shows)."""
    path = Path(path)
    bundle = {"text/plain": alt}
    if path.suffix == ".svg":
        bundle["image/svg+xml"] = path.read_text()
    else:
        import base64

        bundle["image/png"] = base64.b64encode(path.read_bytes()).decode("ascii")
    _display(bundle)
    _display(
        {
            "text/markdown": f"*Figure {number}. {caption}*",
            "text/plain": f"Figure {number}. {caption}",
        }
    )


def statement(statement: dict[str, Any], kind: str) -> None:
    """A finding or the verdict: the applicable wording, with its status."""
    text = statement["text"] if statement["held"] else statement["alternative"]
    label = "Verdict" if kind == "verdict" else f"Finding ({STATUS[statement['held']]})"
    _display({"text/markdown": f"**{label}:** {text}", "text/plain": f"{label}: {text}"})
