"""Student editions: solution regions blanked, outputs stripped, check cells kept.

Each edition must stop at its first blank with NotImplementedError, pass every check once the
solutions are put back, and fail a check with its message when a solution is wrong. A synthetic
lesson tests the mechanism; the tutorials are tested for the same, each one that has solution
regions (and every tutorial must have at least one)."""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from nnreg_keras.pipeline import cli, student
from nnreg_keras.pipeline.profiles import load_profile
from nnreg_keras.pipeline.runner import discover
from nnreg_keras.pipeline.student import (
    SolutionRegionError,
    solutions,
    student_edition,
    write_editions,
)
from tests.conftest import ROOT, landed
from tests.editions import check_cells, first_blank, is_student_edition, with_solutions

FUNCTION = '''def mean_square(values):
    """The mean of the squared values."""
    ### BEGIN SOLUTION
    return sum(v * v for v in values) / len(values)
    ### END SOLUTION'''
FUNCTION_CHECK = (
    "assert mean_square([1, 2, 3]) == 14 / 3, "
    'f"mean_square([1, 2, 3]) should be 14/3 (the mean of 1, 4, 9), got {mean_square([1, 2, 3])}"'
)
TOTAL = "### BEGIN SOLUTION\ntotal = 2 * steps\n### END SOLUTION\nprint(total)"
TOTAL_CHECK = 'assert total == 2 * steps, f"total should be twice steps ({2 * steps}), got {total}"'
ANSWER = "Why?\n\n### BEGIN SOLUTION\nBecause every weight stays.\n### END SOLUTION"


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def lesson() -> nbformat.NotebookNode:
    """A teacher's notebook with two solution regions in code, one in markdown, two checks."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A lesson\n\n> A question?"),
        code("steps: int = 3  # steps", "parameters"),
        code('before = "ran"'),
        code(FUNCTION),
        code(FUNCTION_CHECK, "check"),
        code(TOTAL),
        code(TOTAL_CHECK, "check"),
        nbformat.v4.new_markdown_cell(ANSWER),
        code('after = "ran"'),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
    nb.cells[2].execution_count = 7
    return nb


def execute(nb: nbformat.NotebookNode, tmp_path: Path, parameters: dict | None = None):
    """Execute a notebook as papermill does; return the executed notebook and the error, if any."""
    source, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, str(source))
    error = None
    try:
        papermill.execute_notebook(
            str(source),
            str(out),
            parameters=parameters or {},
            kernel_name="python3",
            cwd=str(ROOT / "tutorials"),
            progress_bar=False,
            shutdown_kernel="immediate",  # as the runner does
        )
    except PapermillExecutionError as err:
        error = err
    return nbformat.read(str(out), as_version=4), error


def failing_cell(executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    (cell,) = [
        c
        for c in executed.cells
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    ]
    return cell


def assert_stopped_at_a_blank(executed: nbformat.NotebookNode, edition: nbformat.NotebookNode):
    """The run raised NotImplementedError from a blank, in the first blank's cell or a later one
    that calls it (a blank inside a function raises when the function is called), and ran no cell
    after that one."""
    cell = failing_cell(executed)
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "NotImplementedError"
    assert "raise NotImplementedError()" in re.sub(r"\x1b\[[0-9;]*m", "", "".join(error.traceback))
    sources = [c.source for c in executed.cells]
    blank = sources.index(edition.cells[first_blank(edition)].source)
    failed = sources.index(cell.source)
    assert failed >= blank, "a cell before the first blank failed"
    assert all(
        c.execution_count is None for c in executed.cells[failed + 1 :] if c.cell_type == "code"
    )


def test_the_edition_blanks_each_region_strips_outputs_and_keeps_the_checks():
    teacher = lesson()
    edition = student_edition(teacher, "lesson.ipynb")
    assert edition.cells[3].source == (
        'def mean_square(values):\n    """The mean of the squared values."""\n'
        "    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    assert edition.cells[5].source == "# YOUR CODE HERE\nraise NotImplementedError()\nprint(total)"
    assert edition.cells[7].source == "Why?\n\nYOUR ANSWER HERE"
    assert [edition.cells[i].source for i in check_cells(edition)] == [FUNCTION_CHECK, TOTAL_CHECK]
    assert check_cells(edition) == check_cells(teacher) == [4, 6]
    assert edition.cells[2].outputs == [] and edition.cells[2].execution_count is None
    assert edition.cells[1].metadata["tags"] == ["parameters"]
    assert edition.metadata["nnreg_keras"]["edition"] == "student"
    assert teacher.cells[2].outputs, "the teacher's notebook is left as it was"
    assert solutions(teacher) == [
        "    return sum(v * v for v in values) / len(values)",
        "total = 2 * steps",
        "Because every weight stays.",
    ]


def test_the_solutions_put_back_give_the_teachers_notebook():
    teacher = lesson()
    back = with_solutions(student_edition(teacher), solutions(teacher))
    assert [c.source for c in back.cells] == [c.source for c in teacher.cells]
    assert "nnreg_keras" not in back.metadata
    with pytest.raises(SolutionRegionError, match="more answers than blanks"):
        with_solutions(student_edition(teacher), [*solutions(teacher), "extra = 1"])


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1\n### BEGIN SOLUTION\nx = 2", "'### BEGIN SOLUTION' is not closed"),
        ("x = 1\n### END SOLUTION", "'### END SOLUTION' without '### BEGIN SOLUTION'"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
            "'### BEGIN SOLUTION' inside a solution region",
        ),
    ],
)
def test_a_broken_region_is_named_with_its_notebook_and_cell(source, problem):
    nb = lesson()
    nb.cells.append(code(source))
    with pytest.raises(SolutionRegionError, match=f"lesson.ipynb, cell 10: {re.escape(problem)}"):
        student_edition(nb, "lesson.ipynb")


@pytest.mark.notebooks
def test_the_edition_stops_at_its_first_blank_with_not_implemented_error(tmp_path):
    edition = student_edition(lesson())
    executed, error = execute(edition, tmp_path)
    assert error is not None and error.ename == "NotImplementedError"
    assert_stopped_at_a_blank(executed, edition)
    assert failing_cell(executed).source == FUNCTION_CHECK  # the first call of the blank function
    ran = {c.source: c.execution_count for c in executed.cells if c.cell_type == "code"}
    assert ran['before = "ran"'] is not None and ran['after = "ran"'] is None


@pytest.mark.notebooks
def test_with_the_solutions_put_back_every_check_passes(tmp_path):
    teacher = lesson()
    solved = with_solutions(student_edition(teacher), solutions(teacher))
    executed, error = execute(solved, tmp_path, {"steps": 5})
    assert error is None
    assert [c.outputs for c in executed.cells if c.source == TOTAL][0][0]["text"] == "10\n"


@pytest.mark.notebooks
def test_a_wrong_solution_fails_its_check_with_the_message(tmp_path):
    wrong = "    return sum(values) / len(values)"  # the mean, not the mean square
    teacher = lesson()
    answers = [wrong, *solutions(teacher)[1:]]
    executed, error = execute(with_solutions(student_edition(teacher), answers), tmp_path)
    assert error is not None and error.ename == "AssertionError"
    assert error.evalue == "mean_square([1, 2, 3]) should be 14/3 (the mean of 1, 4, 9), got 2.0"
    assert failing_cell(executed).source == FUNCTION_CHECK


def write_lesson(directory: Path, name: str = "01_lesson.ipynb") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    nbformat.write(lesson(), str(directory / name))
    return directory / name


def test_write_editions_replaces_only_what_it_wrote_and_deletes_nothing(tmp_path, capsys):
    tutorials, target = tmp_path / "tutorials", tmp_path / "student"
    write_lesson(tutorials)
    write_lesson(tutorials, "02_other.ipynb")
    assert [p.name for p in write_editions(tutorials, target)] == [
        "01_lesson.ipynb",
        "02_other.ipynb",
    ]
    assert is_student_edition(target / "01_lesson.ipynb")
    (target / "notes.md").write_text("the teacher's notes")
    only_one = tmp_path / "one"
    write_lesson(only_one)
    write_editions(only_one, target)  # a smaller --tutorials: the other edition stays
    assert sorted(p.name for p in target.iterdir()) == [
        ".nnreg-student.json",
        "01_lesson.ipynb",
        "02_other.ipynb",
        "notes.md",
    ]
    edited = target / "02_other.ipynb"
    edited.write_text(edited.read_text().replace("YOUR CODE HERE", "a student's answer"))
    before = edited.read_bytes()
    with pytest.raises(student.NnregError, match="are not the editions this command wrote"):
        write_editions(tutorials, target)
    assert edited.read_bytes() == before

    with pytest.raises(student.NnregError, match="holds the teacher's notebooks"):
        write_editions(tutorials, tutorials)
    mine = write_lesson(tmp_path / "mine")
    with pytest.raises(student.NnregError, match="are not the editions this command wrote"):
        write_editions(tutorials, tmp_path / "mine")
    assert not is_student_edition(mine)
    (tmp_path / "f").write_text("a file")
    assert cli.main(["student", str(tmp_path / "f"), "--tutorials", str(tutorials)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'f'} is a file, not a directory" in err and "report" not in err


def test_the_student_command_writes_the_editions_of_the_lessons_here(tmp_path, monkeypatch, capsys):
    write_lesson(tmp_path / "tutorials")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["student", "handout"]) == 0
    assert capsys.readouterr().out == "wrote 1 student editions to handout/\n"
    edition = nbformat.read(str(tmp_path / "handout" / "01_lesson.ipynb"), as_version=4)
    assert first_blank(edition) == 3


def test_make_student_writes_an_edition_of_every_tutorial(tmp_path):
    target = tmp_path / "editions"
    done = subprocess.run(
        ["make", "-C", str(ROOT), "student", f"STUDENT={target}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.glob("*.ipynb")) == [nb.name for nb in TUTORIALS]
    for path in target.glob("*.ipynb"):
        edition = nbformat.read(str(path), as_version=4)
        assert all(not c.get("outputs") for c in edition.cells)
        assert "### BEGIN SOLUTION" not in "".join(c.source for c in edition.cells)


# The tutorials. Every lesson needs at least one solution region for its student edition: the
# first test fails for a tutorial that has none yet, the others test each one that has.
TUTORIALS = discover(ROOT / "tutorials")
STEMS = [nb.stem for nb in TUTORIALS]


def teacher(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


WITH_SOLUTIONS = [p for p in TUTORIALS if solutions(teacher(p), p.name)]
GRADED = [p for p in TUTORIALS if any("nbgrader" in c.metadata for c in teacher(p).cells)] or [
    ROOT / "tutorials" / "03_l2_vs_dropout_from_scratch.ipynb"
]
UNGRADED = [p for p in WITH_SOLUTIONS if p not in GRADED]


CORE = [p for p in TUTORIALS if p.name[:2] <= "05"]  # the core lessons; the rest go further


@pytest.mark.parametrize("notebook", CORE, ids=[p.stem for p in CORE])
def test_every_core_lesson_has_a_solution_region_and_a_check(notebook: Path):
    """The core lessons each give the student code to write and check it; a Going further notebook
    may have none (its exercises are runs to predict)."""
    nb = teacher(notebook)
    assert solutions(nb, notebook.name), (
        f"{notebook.name} has no solution region (### BEGIN SOLUTION / ### END SOLUTION): its "
        "student edition would have nothing to write"
    )
    assert check_cells(nb), f"{notebook.name} has no code cell tagged 'check'"


@pytest.mark.parametrize("notebook", TUTORIALS, ids=STEMS)
def test_every_check_is_a_plain_assert_with_a_readable_message(notebook: Path):
    nb = teacher(notebook)
    for index in check_cells(nb):
        asserts = [
            n for n in ast.walk(ast.parse(nb.cells[index].source)) if isinstance(n, ast.Assert)
        ]
        assert asserts, f"{notebook.name}, cell {index + 1}: a check cell holds no assert"
        silent = [n.lineno for n in asserts if n.msg is None]
        assert not silent, f"{notebook.name}, cell {index + 1}: asserts without a message: {silent}"


def _markers_flush(source: str) -> str:
    return re.sub(r"^[ \t]*(### (BEGIN|END) SOLUTION)[ \t]*$", r"\1", source, flags=re.M)


@pytest.mark.parametrize("notebook", WITH_SOLUTIONS, ids=[p.stem for p in WITH_SOLUTIONS])
def test_a_tutorials_edition_with_its_solutions_put_back_is_the_tutorial(notebook: Path):
    nb = teacher(notebook)
    back = with_solutions(student_edition(nb, notebook.name), solutions(nb, notebook.name))
    assert [_markers_flush(c.source) for c in back.cells] == [
        _markers_flush(c.source) for c in nb.cells
    ]


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", WITH_SOLUTIONS, ids=[p.stem for p in WITH_SOLUTIONS])
def test_a_tutorial_solved_passes_every_check(notebook: Path, quick_reports: Path):
    """The tutorial is its student edition with the solutions put back (the test above); the
    session's quick run executed it, so every check cell ran without an error."""
    executed = nbformat.read(str(landed(quick_reports, notebook.stem, "notebooks", ".ipynb")), 4)
    checks = [executed.cells[i] for i in check_cells(executed)]
    assert len(checks) == len(check_cells(teacher(notebook)))
    for cell in checks:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"]


# A lesson nbgrader grades is checked to fail first at its first blank on nbgrader's own run of
# its edition (below); any other lesson with solutions is run here.
@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", UNGRADED, ids=[p.stem for p in UNGRADED])
def test_a_tutorials_edition_stops_at_its_first_blank(notebook: Path, tmp_path: Path):
    edition = student_edition(teacher(notebook), notebook.name)
    quick = load_profile(ROOT / "params" / "quick.yaml", STEMS).get(notebook.stem, {})
    executed, error = execute(edition, tmp_path, quick)
    assert error is not None and error.ename == "NotImplementedError", (
        f"{notebook.name}'s student edition failed with {error and error.ename} before its first "
        f"blank: {error and error.evalue}"
    )
    assert_stopped_at_a_blank(executed, edition)


# nbgrader itself: generate_assignment and autograde on every lesson that carries nbgrader's cell
# metadata (until the lessons carry it, on a copy of tutorial 03 given the metadata here), at the
# quick profile's sizes and up to the last graded cell, so that autograde's execution stays short.
SOLUTION_CELL = {"grade": False, "locked": False, "schema_version": 3, "solution": True}
CHECK_CELL = {"grade": True, "locked": True, "points": 1, "schema_version": 3, "solution": False}


def graded_copy(path: Path) -> nbformat.NotebookNode:
    """The lesson with nbgrader's metadata (as shipped, or added as the lessons will carry it) and
    the quick profile's sizes appended to its parameters cell."""
    nb = teacher(path)
    number = path.stem.split("_")[0]
    for index, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata:
            continue
        if "### BEGIN SOLUTION" in cell.source:
            cell.metadata["nbgrader"] = {**SOLUTION_CELL, "grade_id": f"{number}_solution_{index}"}
        elif "check" in cell.metadata.get("tags", []):
            cell.metadata["nbgrader"] = {**CHECK_CELL, "grade_id": f"{number}_check_{index}"}
        cell.metadata.get("nbgrader", {}).setdefault("task", False)
    quick = load_profile(ROOT / "params" / "quick.yaml", STEMS).get(path.stem, {})
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "".join(f"\n{name} = {value!r}" for name, value in quick.items())
    # A grade is read from its graded cell's outputs alone, so the cells after the last graded one
    # cannot change any grade: autograde runs the lesson up to there (the seed comparisons after it
    # ran in the session's quick run).
    last = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    nb.cells = nb.cells[: last + 1]
    return nb


@functools.cache
def _asked_once(ask: Any) -> str:
    return ask()


def nbgrader(course: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """nbgrader's own API on the course in `course`, in this process: its commands run as
    `nbgrader generate_assignment` and `nbgrader autograde` do, without a process (and nbgrader's
    2.5 s of imports) for each. Autograde runs each cell as the runner does, and stops the kernel
    at once when the last has run."""
    from nbgrader import api
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    # nbgrader stamps each new gradebook with its migrations' head, which it asks alembic's command
    # for (found on PATH): a 2.2 s process for the same answer every time, so asked once here.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    asked = api.get_alembic_version
    monkeypatch.setattr(api, "get_alembic_version", lambda: _asked_once(asked))
    config = Config()
    config.CourseDirectory.root = str(course)
    config.ExecutePreprocessor.timeout = 600
    config.ExecutePreprocessor.shutdown_kernel = "immediate"
    return NbGraderAPI(config=config)


def succeeded(result: dict[str, Any]) -> None:
    """An nbgrader command that ran to its end and logged no error ("[ERROR] ...")."""
    log = result.get("log", "")
    errors = re.findall(r"^\[(?:ERROR|CRITICAL)\].*$", log, flags=re.M)
    assert result["success"] and not errors, (result.get("error") or "") + log[-3000:]


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", GRADED, ids=[p.stem for p in GRADED])
def test_nbgrader_generates_the_edition_and_grades_full_zero_and_a_wrong_answer(
    notebook, tmp_path, monkeypatch
):
    from nbgrader.api import Gradebook

    course, name = tmp_path / "course", notebook.name
    nb = graded_copy(notebook)
    (course / "source" / "lesson").mkdir(parents=True)
    nbformat.write(nb, str(course / "source" / "lesson" / name))
    api = nbgrader(course, monkeypatch)
    succeeded(api.generate_assignment("lesson"))
    released = teacher(course / "release" / "lesson" / name)
    ours = student_edition(nb, name)
    assert [c.source for c in released.cells] == [c.source for c in ours.cells]
    assert [c.metadata.get("nbgrader") for c in released.cells] == [
        c.metadata.get("nbgrader") for c in ours.cells
    ]

    last = max(i for i, c in enumerate(nb.cells) if "### BEGIN SOLUTION" in c.source)
    indent = re.search(r"( *)### BEGIN SOLUTION", nb.cells[last].source).group(1)
    wrong = with_solutions(student_edition(nb), [*solutions(nb)[:-1], f"{indent}pass"])
    for student_id, edition in (("solved", nb), ("blank", released), ("wrong", wrong)):
        (course / "submitted" / student_id / "lesson").mkdir(parents=True)
        nbformat.write(edition, str(course / "submitted" / student_id / "lesson" / name))
        succeeded(api.autograde("lesson", student_id))

    checks = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    ]
    wrong_check = next(
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells[last:]
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:

        def scores(student_id):
            found = book.find_submission_notebook(Path(name).stem, "lesson", student_id)
            return {g.name: g.score for g in found.grades}

        assert scores("solved") == {c: 1 for c in checks}
        assert scores("blank") == {c: 0 for c in checks}
        assert scores("wrong") == {c: int(c != wrong_check) for c in checks}
    # The edition's first error is NotImplementedError, from its first blank or a later cell that
    # calls it: nothing before the first blank fails.
    graded = teacher(course / "autograded" / "blank" / "lesson" / name)
    errors = [
        (i, o)
        for i, c in enumerate(graded.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors, "the blank edition ran without an error"
    failed, error = errors[0]
    assert error.ename == "NotImplementedError", (error.ename, error.evalue)
    assert failed >= first_blank(released), "a cell before the first blank failed"
