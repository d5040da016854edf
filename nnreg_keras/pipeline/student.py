"""Student editions of the lessons: the solution regions blanked, the checks kept, no outputs.

A lesson marks what students write with nbgrader's convention: in a code cell, the lines between
`### BEGIN SOLUTION` and `### END SOLUTION` are the teacher's solution; a code cell tagged `check`
holds plain `assert`s with a readable message that test it. The student edition replaces each region
by `# YOUR CODE HERE` and `raise NotImplementedError()` (indented as the marker was), in a markdown
cell by `YOUR ANSWER HERE`, strips every output and execution count, and keeps everything else
(check cells included) as it is. So a student edition stops at its first blank until it is filled
in, and nbgrader reads the teacher's notebooks as they are (`nbgrader generate_assignment` makes the
same edition).

`solutions` lists the regions of a teacher's notebook and `with_solutions` puts them back into its
student edition, which gives the teacher's notebook again: the tests use both to check that every
student edition passes its checks once solved.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline.lessons import clean_notebook, discover, write_notebook

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_BLANK = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_BLANK = "YOUR ANSWER HERE"
CHECK_TAG = "check"
EDITION = "student"  # the notebook's metadata `nnreg_keras.edition` says which edition it is


class SolutionRegionError(NnregError, ValueError):
    """A solution region is not closed, or not opened, in a lesson's cell."""


def _marker(line: str, marker: str) -> bool:
    return line.strip() == marker


def _regions(source: str, where: str) -> list[tuple[int, int]]:
    """(first, last) line numbers of each solution region, markers included."""
    regions, start = [], None
    for number, line in enumerate(source.splitlines()):
        if _marker(line, BEGIN):
            if start is not None:
                raise SolutionRegionError(f"{where}: {BEGIN!r} inside a solution region")
            start = number
        elif _marker(line, END):
            if start is None:
                raise SolutionRegionError(f"{where}: {END!r} without {BEGIN!r}")
            regions.append((start, number))
            start = None
    if start is not None:
        raise SolutionRegionError(f"{where}: {BEGIN!r} is not closed by {END!r}")
    return regions


def _where(name: str, index: int) -> str:
    return f"{name}, cell {index + 1}"


def solutions(nb: Any, name: str = "notebook") -> list[str]:
    """The text of every solution region, in order (the lines between the markers)."""
    found = []
    for index, cell in enumerate(nb.cells):
        lines = cell.source.splitlines()
        for first, last in _regions(cell.source, _where(name, index)):
            found.append("\n".join(lines[first + 1 : last]))
    return found


def _blank(source: str, code: bool, where: str) -> str:
    lines = source.splitlines()
    out, previous = [], 0
    for first, last in _regions(source, where):
        indent = re.match(r"\s*", lines[first]).group()
        out += lines[previous:first]
        out += [indent + text for text in CODE_BLANK] if code else [indent + ANSWER_BLANK]
        previous = last + 1
    return "\n".join(out + lines[previous:]) + ("\n" if source.endswith("\n") else "")


def student_edition(nb: Any, name: str = "notebook") -> Any:
    """The student edition of a teacher's notebook: each solution region blanked, no outputs."""
    edition = clean_notebook(nb)
    for index, cell in enumerate(edition.cells):
        if BEGIN in cell.source or END in cell.source:
            cell.source = _blank(cell.source, cell.cell_type == "code", _where(name, index))
    edition.metadata.setdefault("nnreg_keras", {})["edition"] = EDITION
    return edition


def _is_blank(lines: list[str], at: int, code: bool) -> bool:
    wanted = CODE_BLANK if code else (ANSWER_BLANK,)
    return [line.strip() for line in lines[at : at + len(wanted)]] == list(wanted)


def with_solutions(edition: Any, answers: list[str]) -> Any:
    """A student edition with its blanks filled, in order, by `answers` (the `solutions` of the
    teacher's notebook, or any other code, indented as it goes in), each between the solution
    markers again: with the teacher's solutions, this is the teacher's notebook."""
    filled = copy.deepcopy(edition)
    remaining = list(answers)
    for cell in filled.cells:
        code = cell.cell_type == "code"
        lines, out, at = cell.source.splitlines(), [], 0
        while at < len(lines):
            if remaining and _is_blank(lines, at, code):
                indent = re.match(r"\s*", lines[at]).group()
                out += [indent + BEGIN, *remaining.pop(0).splitlines(), indent + END]
                at += len(CODE_BLANK) if code else 1
            else:
                out.append(lines[at])
                at += 1
        cell.source = "\n".join(out) + ("\n" if cell.source.endswith("\n") else "")
    if remaining:
        raise SolutionRegionError(f"{len(remaining)} answer(s) left over: more answers than blanks")
    filled.metadata.get("nnreg_keras", {}).pop("edition", None)
    if filled.metadata.get("nnreg_keras") == {}:
        del filled.metadata["nnreg_keras"]
    return filled


def check_cells(nb: Any) -> list[int]:
    """The indices of the code cells tagged `check`."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and CHECK_TAG in cell.get("metadata", {}).get("tags", [])
    ]


def first_blank(edition: Any) -> int | None:
    """The index of the first code cell of a student edition with a blank, or None."""
    for index, cell in enumerate(edition.cells):
        lines = cell.source.splitlines()
        if cell.cell_type == "code" and any(_is_blank(lines, at, True) for at in range(len(lines))):
            return index
    return None


def is_student_edition(path: Path) -> bool:
    """Whether the notebook file at `path` is a student edition this module wrote."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return meta.get("nnreg_keras", {}).get("edition") == EDITION


def write_editions(tutorials: Path, target: Path) -> list[Path]:
    """Write the student edition of every notebook in `tutorials` into `target`, under the same
    file names, all checked before any is written. A notebook without a solution region is written
    as it is, without outputs. In `target`, only files that are student editions are replaced, and
    the editions of notebooks no longer in `tutorials` are removed; nothing else is touched."""
    import nbformat

    tutorials, target = Path(tutorials), Path(target)
    notebooks = discover(tutorials)
    if not notebooks:
        raise NnregError(f"no notebooks in {tutorials}: nothing to write")
    if target.resolve() == tutorials.resolve():
        raise NnregError(
            f"{target} holds the teacher's notebooks: write the student editions elsewhere"
        )
    editions = [
        (target / path.name, student_edition(nbformat.read(str(path), as_version=4), path.name))
        for path in notebooks
    ]
    taken = [p for p, _ in editions if p.exists() and not is_student_edition(p)]
    if taken:
        raise NnregError(
            f"{', '.join(str(p) for p in taken)} would be replaced but are not student editions; "
            "nothing was written (choose another directory)"
        )
    written = [write_notebook(edition, path) for path, edition in editions]
    for stale in discover(target):
        if stale not in written and is_student_edition(stale):
            stale.unlink()
    return written
