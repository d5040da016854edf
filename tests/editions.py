"""Reading a student edition back, for the tests: its blanks, its check cells, and the edition
with answers put back into its blanks (with the teacher's `student.solutions`, the teacher's
notebook again)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from nnreg_keras.pipeline.student import BEGIN, EDITION, END, SolutionRegionError

CODE_BLANK = ("# YOUR CODE HERE", "raise NotImplementedError()")  # what nbgrader writes
ANSWER_BLANK = "YOUR ANSWER HERE"
CHECK_TAG = "check"


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
