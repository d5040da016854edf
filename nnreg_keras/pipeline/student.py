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
student's work survive. `solutions` gives the teacher's solutions, which the tests put back into
an edition to check that it passes its checks once solved.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import NnregError
from nnreg_keras.pipeline.files import write_text, writing
from nnreg_keras.pipeline.lessons import clean_notebook, discover

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
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
