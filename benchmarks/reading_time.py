"""How long a teacher takes to read each lesson, and how much code it holds.

Reading time is the guide's own measure (tutorials/README.md): the words of the notebook's prose,
code, and the text its code shows (tables, findings, the short answer, from an executed copy where
one is given) at 200 words a minute, plus half a minute for each figure (drawn
by `rec.add_figure`, or shown in an executed copy). Code lines are the
non-blank lines of the code cells that are not comments.

    python benchmarks/reading_time.py [tutorials/*.ipynb]          # the committed notebooks
    python benchmarks/reading_time.py reports/runs/*/notebooks/*.ipynb   # executed: output text too
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

WORDS_PER_MINUTE = 200
MINUTES_PER_FIGURE = 0.5
WORD = re.compile(r"[A-Za-z0-9_]+(?:['.][A-Za-z0-9_]+)*")
TAG = re.compile(r"<[^>]+>")


def _words(text: str) -> int:
    return len(WORD.findall(text))


def _output_text(output: dict) -> tuple[str, int]:
    """The text an output shows a reader, and how many figures it holds."""
    data = output.get("data", {})
    figures = int("image/png" in data or "image/svg+xml" in data)
    if "text/html" in data:
        shown = html.unescape(TAG.sub(" ", "".join(data["text/html"])))
        figures = max(figures, len(re.findall(r"<(?:svg|img)\b", "".join(data["text/html"]))))
    else:
        shown = "".join(data.get("text/plain", output.get("text", "")))
    return shown, figures


def measure(notebook: Path) -> dict[str, float]:
    """Words of prose, code and shown text; figures; code lines; and the reading time in minutes."""
    counts = {"prose": 0, "code": 0, "shown": 0, "figures": 0, "code lines": 0}
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            counts["prose"] += _words(source)
            counts["figures"] += len(re.findall(r"!\[", source))
            continue
        if cell["cell_type"] != "code":
            continue
        counts["code"] += _words(source)
        drawn = source.count(".add_figure(")  # figures the cell draws, executed or not
        counts["code lines"] += sum(
            1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
        )
        shown_figures = 0
        for output in cell.get("outputs", []):
            shown, figures = _output_text(output)
            counts["shown"] += _words(shown) if not figures else 0
            shown_figures += figures
        counts["figures"] += max(drawn, shown_figures)
    words = counts["prose"] + counts["code"] + counts["shown"]
    counts["minutes"] = words / WORDS_PER_MINUTE + MINUTES_PER_FIGURE * counts["figures"]
    return counts


def main(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted(Path("tutorials").glob("[0-9]*.ipynb"))
    print(
        f"{'notebook':40s} {'prose':>6s} {'code':>6s} {'shown':>6s} {'figures':>8s} "
        f"{'code lines':>10s} {'minutes':>8s}"
    )
    for nb in notebooks:
        c = measure(nb)
        print(
            f"{nb.stem:40s} {c['prose']:6d} {c['code']:6d} {c['shown']:6d} {c['figures']:8d} "
            f"{c['code lines']:10d} {c['minutes']:8.1f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
