"""Student editions of the lessons, made by nbgrader's own preprocessors.

A lesson marks what students write with nbgrader's convention: in a solution cell (nbgrader cell
metadata `solution: true`), the lines between `### BEGIN SOLUTION` and `### END SOLUTION` are the
teacher's solution; a check cell (tagged `check`, nbgrader metadata `grade: true` with points)
holds plain `assert`s with a readable message. The student edition is what `nbgrader
generate_assignment` makes, by the same preprocessors in the same order (LockCells,
ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, ClearHiddenTests,
ClearMarkScheme), without nbgrader's course database: each region becomes `# YOUR CODE HERE` and
`raise NotImplementedError()` (in markdown, `YOUR ANSWER HERE`), outputs go, check cells stay. A
notebook without nbgrader metadata gets the same blanks (ClearSolutions with enforce_metadata off).

`write_editions` replaces a file only while it is exactly the edition it wrote (a hash of each is
kept in `.nnreg-student.json` beside them) and never deletes one: a teacher's edits and a
student's work survive. `solutions` and `with_solutions` put the teacher's solutions back into an
edition, which the tests use to check that every edition passes its checks once solved.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline.files import write_text, writing
from nnreg_keras.pipeline.lessons import clean_notebook, discover

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_BLANK = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_BLANK = "YOUR ANSWER HERE"
CHECK_TAG = "check"
EDITION = "student"  # the notebook's metadata `nnreg_keras.edition` says which edition it is
MANIFEST = ".nnreg-student.json"  # in the editions' directory: the hash of each edition written


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


def _graded(nb: Any) -> bool:
    return any("nbgrader" in cell.get("metadata", {}) for cell in nb.cells)


def student_edition(nb: Any, name: str = "notebook") -> Any:
    """The student edition of a teacher's notebook, by nbgrader's preprocessors."""
    from nbgrader import preprocessors as nbg

    for index, cell in enumerate(nb.cells):
        _regions(cell.source, _where(name, index))  # a broken region, named with its cell
    graded = _graded(nb)
    steps = [nbg.ClearSolutions(enforce_metadata=graded), nbg.ClearOutput()]
    if graded:
        steps = [
            nbg.LockCells(),
            *steps,
            nbg.CheckCellMetadata(),
            nbg.ComputeChecksums(),
            nbg.ClearHiddenTests(),
            nbg.ClearMarkScheme(),
            nbg.ComputeChecksums(),
            nbg.CheckCellMetadata(),
        ]
    edition, resources = clean_notebook(nb), {}
    try:
        for step in steps:
            edition, resources = step.preprocess(edition, resources)
    except (RuntimeError, ValueError) as err:
        raise SolutionRegionError(f"{name}: nbgrader refuses it: {err}") from None
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


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def write_editions(tutorials: Path, target: Path) -> list[Path]:
    """Write the student edition of every notebook in `tutorials` into `target`, under the same
    file names, all made before any is written. A file already there is replaced only while it is
    exactly the edition this function wrote (its hash in `MANIFEST`); nothing is deleted."""
    import nbformat

    tutorials, target = Path(tutorials), Path(target)
    notebooks = discover(tutorials)
    if not notebooks:
        raise NnregError(f"no notebooks in {tutorials}: nothing to write")
    if os.path.lexists(target) and not target.is_dir():
        raise NnregError(
            f"{target} is a file, not a directory; give the student editions a new directory "
            f"(nothing was written)"
        )
    if target.resolve() == tutorials.resolve():
        raise NnregError(
            f"{target} holds the teacher's notebooks: write the student editions elsewhere"
        )
    editions = [
        (target / path.name, student_edition(nbformat.read(str(path), as_version=4), path.name))
        for path in notebooks
    ]
    try:
        written = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        written = {}
    written = written if isinstance(written, dict) else {}
    taken = [p for p, _ in editions if p.exists() and _digest(p) != written.get(p.name)]
    if taken:
        raise NnregError(
            f"{', '.join(str(p) for p in taken)} would be replaced but are not the editions this "
            "command wrote (edited since, or someone else's); nothing was written: move them "
            "away, or choose another directory"
        )
    with writing(target):
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for path, edition in editions:
            write_text(path, nbformat.writes(edition) + "\n")
            written[path.name] = _digest(path)
            paths.append(path)
        write_text(target / MANIFEST, json.dumps(written, indent=1, sort_keys=True) + "\n")
    return paths
