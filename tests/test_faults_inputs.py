"""Faults of the inputs: values and files that are malformed, huge, special (a FIFO, a device, a
directory) or wrongly encoded; commands run from another directory; environments a kernel cannot
start in. Each is refused before any kernel starts (exit 2) with a message naming the cause and the
fix, or, where only the kernel can see it (a data file, a full disk), after it, with the right
exit status and the file named.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
from pathlib import Path

import pytest

from nnreg_keras.data import load_dataset
from nnreg_keras.exceptions import DatasetError
from tests import faults_kit as kit
from tests.faults_kit import STEM, assert_one_screen, assert_previous_report, snapshot

PROFILE = Path("params/quick.yaml")
TUTORIAL = Path("tutorials") / f"{STEM}.ipynb"
RUN = ["run", "99", "--profile", "quick"]


def write(path: Path, data: str | bytes) -> None:
    if path.is_file():
        path.unlink()
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)


def replace_by(path: Path, make) -> None:
    path.unlink()
    make(path)


# Eight levels of aliases, each ten of the one before: 10**8 items once expanded.
BOMB = (
    "{a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "
    + ", ".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "}"
)

# -p NAME VALUE: each VALUE is read as YAML and must be plain data of a sane size.
OVERRIDES = {
    "invalid YAML (#10)": (
        ["-p", "steps", "[1,"],
        "-p steps '[1,': the value is not valid YAML (expected the node content",
        "write a number (-p steps 400)",
    ),
    # A text parameter takes the text as written (-p label 2024-01-01 is a text); YAML's other
    # types are refused where a number or a list is expected.
    "a date": (
        ["-p", "hidden_units", "2024-01-01"],
        "-p hidden_units 2024-01-01 is a date",
        "quote",
    ),
    "binary data": (
        ["-p", "hidden_units", "!!binary aGk="],
        "is binary data",
        "give a number, a text",
    ),
    "a set": (["-p", "hidden_units", "!!set {a: null}"], "is a set", "give a number"),
    "a mapping with a number as key": (
        ["-p", "hidden_units", "{1: 2}"],
        "has the key 1",
        "keys must be",
    ),
    "an integer of 5000 digits": (
        ["-p", "steps", "9" * 5000],
        "the value cannot be read (Exceeds the limit (4300 digits)",
        "give a number, a text or a list of a sane size",
    ),
    "an integer beyond 2**63": (["-p", "steps", str(2**70)], "beyond ±2**63", "no parameter"),
    "a text of 200,000 characters": (
        ["-p", "label", "x" * 200_000],
        "is a text of more than 100,000 characters",
        "-p label xxxx",
    ),
    "a list nested 60 deep": (
        ["-p", "hidden_units", "[" * 60 + "]" * 60],
        "is too large",
        "50 deep",
    ),
    "aliases that expand without end": (
        ["-p", "hidden_units", BOMB],
        "is too large: at most 100,000 items",
        "nested at most",
    ),
    "seeds of 2**32 or more (#11)": (
        ["-p", "seeds", "[0, 4294967296]"],
        "parameter 'seeds' = [0, 4294967296]",
        "each an integer in [0, 2**31)",
    ),
    "a data file that is a FIFO": (
        ["-p", "data_path", "pipe.csv"],
        "parameter 'data_path' = 'pipe.csv'",
        "pipe.csv is a FIFO, socket or device, not a file",
    ),
    "a data file under the home of no user": (
        ["-p", "data_path", "~no-such-user/data.csv"],
        "parameter 'data_path' = '~no-such-user/data.csv'",
        "there is no user 'no-such-user' for ~no-such-user",
    ),
}


@pytest.mark.parametrize("args, cause, fix", OVERRIDES.values(), ids=list(OVERRIDES))
def test_a_bad_override_is_refused_before_any_kernel_starts(project, args, cause, fix):
    os.mkfifo(project.path / "pipe.csv")
    before = snapshot(project.reports)
    assert_one_screen(project.main(*RUN, *args), 2, cause, fix)
    (project.path / "pipe.csv").unlink()
    assert_previous_report(project, before)


def test_invalid_yaml_in_an_override_has_no_traceback(project):
    """#10, as a process: `-p steps '[1,'` ended in a YAML parser's traceback (exit 1)."""
    before = snapshot(project.reports)
    assert_one_screen(project.cli(*RUN, "-p", "steps", "[1,"), 2, "is not valid YAML")
    assert_previous_report(project, before)


# Profiles: malformed, huge, special or wrongly encoded files, and sections of the wrong shape.
PROFILES = {
    "not UTF-8 (#10)": (
        lambda p: write(p, b"99_tiny:\n  label: caf\xe9\n"),
        "profile file params/quick.yaml is not UTF-8 text (byte 0xe9 at offset 21)",
        "save it as UTF-8 YAML",
    ),
    "a directory": (
        lambda p: replace_by(p, Path.mkdir),
        "profile file params/quick.yaml is a directory, not a file",
        "save it as UTF-8 YAML",
    ),
    "a FIFO": (
        lambda p: replace_by(p, os.mkfifo),
        "profile file params/quick.yaml is a FIFO, not a file",
        "save it as UTF-8 YAML",
    ),
    "a link to a device": (
        lambda p: replace_by(p, lambda q: q.symlink_to("/dev/zero")),
        "profile file params/quick.yaml is a character device, not a file",
        "at most 1 MB",
    ),
    "2 MB": (
        lambda p: write(p, "# " + "x" * (2 << 20)),
        "profile file params/quick.yaml holds 2.0 MB, more than the 1.0 MB accepted",
        "one section per notebook",
    ),
    "a list": (
        lambda p: write(p, "- 99_tiny\n"),
        "must map notebook names to their parameters; it holds a list",
        "one section per notebook",
    ),
    "an empty section (#12)": (
        lambda p: write(p, "99_tiny:\n"),
        "section '99_tiny' is empty",
        "give it parameters (`  steps: 400` under it), or delete it",
    ),
    "a section that is a number": (
        lambda p: write(p, "99_tiny: 3\n"),
        "section '99_tiny' is the number 3, not parameters",
        "its parameters indented under it",
    ),
    "a number as a section's name": (
        lambda p: write(p, "99_tiny: {}\n1: {}\n"),
        "section 1 is not a notebook name",
        "a notebook's name, then its parameters",
    ),
    "a date as a value": (
        lambda p: write(p, "99_tiny:\n  label: 2024-01-01\n"),
        "section '99_tiny', parameter 'label' is a date (2024-01-01)",
        "quote a text that YAML reads otherwise",
    ),
    "aliases that expand without end": (
        lambda p: write(p, f"99_tiny:\n  label: {BOMB}\n"),
        "section '99_tiny', parameter 'label' is too large",
        "at most 100,000 items",
    ),
    "a section for a notebook that does not exist (all notebooks run)": (
        lambda p: write(p, "07_missing:\n  steps: 3\n"),
        "names notebooks that do not exist: 07_missing",
        "notebooks: 99_tiny",
    ),
}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("setup, cause, fix", PROFILES.values(), ids=list(PROFILES))
def test_a_bad_profile_is_refused_before_any_kernel_starts(project, setup, cause, fix, command):
    setup(project.path / PROFILE)
    before = snapshot(project.reports)
    args = ["run", "--profile", "quick"] if command == "run" else ["check", "--profile", "quick"]
    assert_one_screen(project.main(*args), 2, cause, fix)
    assert_previous_report(project, before)


def hold_the_lock(project: kit.Project):
    """Hold the notebook's lock, so that a run with --no-wait stops there (exit 7) once every
    check before it has passed: no kernel starts."""
    handle = open(project.reports / ".locks" / f"{STEM}.lock", "w")
    handle.write("4242")
    handle.flush()
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def test_a_section_for_an_absent_notebook_does_not_stop_a_run_of_another(project):
    """#12: a profile section for a notebook that is absent stopped every run."""
    write(project.path / PROFILE, kit.QUICK + "07_missing:\n  steps: 3\n")
    before = snapshot(project.reports)
    with hold_the_lock(project):
        done = project.main(*RUN, "--no-wait")
    err = assert_one_screen(done, 7, "another run holds the lock on 99_tiny")
    assert "note: profile params/quick.yaml has sections for notebooks not in tutorials" in err
    assert "(07_missing); a run of every notebook stops on them" in err
    assert_previous_report(project, before)


# The tutorial itself: a notebook file that cannot be read, or a parameters cell that is no literal.
def edit_parameters(source: str):
    def edit(path: Path) -> None:
        import nbformat

        book = nbformat.read(str(path), as_version=4)
        cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = source
        nbformat.write(book, str(path))

    return edit


NOTEBOOKS = {
    "not UTF-8 (#10)": (
        lambda p: write(p, p.read_bytes().replace(b"A test notebook", b"A test \xff")),
        f"notebook {TUTORIAL} is not UTF-8 text (byte 0xff",
        f"restore it (git checkout -- {TUTORIAL}) or repair it in Jupyter",
    ),
    "not JSON": (
        lambda p: write(p, "{cells: []"),
        f"notebook {TUTORIAL} is not a Jupyter notebook (NotJSONError",
        "restore it",
    ),
    "a FIFO": (
        lambda p: replace_by(p, os.mkfifo),
        f"notebook {TUTORIAL} is a FIFO, not a file",
        "restore it",
    ),
    "a directory": (
        lambda p: replace_by(p, Path.mkdir),
        f"notebook {TUTORIAL} is a directory, not a file",
        "restore it",
    ),
    "a parameters cell that is not Python": (
        edit_parameters("steps: int = = 40"),
        "notebook 99_tiny.ipynb, parameters cell: not valid Python (invalid syntax, line 1)",
        "repair it in Jupyter",
    ),
    "a default that is not a literal": (
        edit_parameters("import math\nsteps = int(math.pi)"),
        "parameters cell, line 2: steps = int(math.pi): the default is not a literal",
        "write a number, a text or a list",
    ),
}


@pytest.mark.parametrize("setup, cause, fix", NOTEBOOKS.values(), ids=list(NOTEBOOKS))
def test_a_tutorial_that_cannot_be_read_is_named(project, setup, cause, fix):
    setup(project.path / TUTORIAL)
    before = snapshot(project.reports)
    assert_one_screen(project.main(*RUN), 2, cause, fix)
    assert_previous_report(project, before)


# Another working directory.
def test_a_run_from_another_directory_takes_the_installed_lessons_and_says_so(project, tmp_path):
    """#12: `run` from another directory said "notebooks: none". Without tutorials/ there it takes
    the lessons installed with the package and says so in one line; refused, it creates nothing."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = project.cli("run", "99", "--profile", "quick", cwd=elsewhere)
    assert_one_screen(
        done, 2, "no single notebook matches '99'; notebooks: 01_dropout_is_not_a_smaller_network"
    )
    assert "lessons: the copy installed with the package" in done.stdout + done.stderr
    assert list(elsewhere.iterdir()) == [] and kit.leftovers(project) == []


def test_a_report_from_another_directory_creates_nothing_there(project, tmp_path):
    """#9 and #12: `report` from another directory created ./reports/.locks there and said "run
    `make report` first"."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = project.cli("report", cwd=elsewhere)
    assert_one_screen(
        done,
        2,
        f"no report in reports ({elsewhere}/reports does not exist)",
        "build it from the project's directory, or give --reports DIR",
    )
    assert list(elsewhere.iterdir()) == [] and kit.leftovers(project) == []


def test_a_report_of_an_empty_folder_is_bad_input_not_a_broken_contract(project, tmp_path):
    """#12: `report` on an empty folder exited 5, which the README reserves for a broken contract."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = project.main("report", "--reports", str(empty))
    assert_one_screen(done, 2, f"no runs in {empty}/runs", "run the notebooks first")
    assert list(empty.iterdir()) == [] and kit.leftovers(project) == []


def test_pruning_against_the_installed_lessons_would_drop_another_folders_runs_and_is_refused(
    project, tmp_path
):
    """From a directory without tutorials/, the notebooks found are the package's copy: pruning
    the project's reports against them would delete the project's runs, so it is refused."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = snapshot(project.reports)
    done = project.main("report", "--prune", "--reports", str(project.reports), cwd=elsewhere)
    assert_one_screen(
        done,
        2,
        "the lessons installed with the package",
        f"pruning would drop every run in {project.reports}",
        "or give --tutorials DIR",
    )
    assert_previous_report(project, before)
    assert list(elsewhere.iterdir()) == []


def test_pruning_with_no_notebooks_is_refused(project, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = snapshot(project.reports)
    done = project.main(
        "report", "--prune", "--reports", str(project.reports), "--tutorials", str(empty)
    )
    assert_one_screen(done, 2, f"no notebooks in {empty}", "pruning would drop every run in")
    assert_previous_report(project, before)


def test_profiles_are_read_beside_the_tutorials_given_and_a_missing_profile_is_named(
    project, tmp_path
):
    """--tutorials DIR from another directory reads the profiles in params/ beside DIR; a profile
    that is not there is named with the profiles that are."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tutorials = str(project.path / "tutorials")
    done = project.main("run", "--profile", "nosuch", "--tutorials", tutorials, cwd=elsewhere)
    assert_one_screen(
        done,
        2,
        f"profile file {project.path / 'params' / 'nosuch.yaml'} does not exist",
        "available profiles: ",
        "quick",
    )
    assert list(elsewhere.iterdir()) == []


# The environment a kernel would start in.
BACKENDS = {
    "an unknown KERAS_BACKEND (#11)": (
        "foo",
        "KERAS_BACKEND='foo' is not a Keras backend that trains; accepted: tensorflow, jax, torch",
        "or unset it for tensorflow",
    ),
    "a KERAS_BACKEND with a capital": (
        "JAX",
        "KERAS_BACKEND='JAX' is not a Keras backend",
        "set one (KERAS_BACKEND=jax)",
    ),
}
BACKENDS["a backend that cannot train"] = (
    "numpy",
    "KERAS_BACKEND='numpy' is not a Keras backend that trains",
    "accepted: tensorflow, jax, torch",
)
if importlib.util.find_spec("torch") is None:
    BACKENDS["a KERAS_BACKEND that is not installed"] = (
        "torch",
        "KERAS_BACKEND=torch: torch is not installed for",
        "install it (pip install torch), or choose another backend",
    )


@pytest.mark.parametrize("backend, cause, fix", BACKENDS.values(), ids=list(BACKENDS))
def test_a_keras_backend_that_cannot_load_is_refused_before_the_kernel(
    project, backend, cause, fix
):
    before = snapshot(project.reports)
    assert_one_screen(project.main(*RUN, KERAS_BACKEND=backend), 2, cause, fix)
    assert_previous_report(project, before)


def test_an_unknown_keras_backend_stops_a_process_before_the_kernel(project):
    before = snapshot(project.reports)
    assert_one_screen(project.cli(*RUN, KERAS_BACKEND="foo"), 2, "is not a Keras backend")
    assert_previous_report(project, before)


# What only the kernel sees: a dataset file, a full disk.
def test_a_huge_csv_is_refused_by_its_size_naming_the_file(project):
    """#11: a CSV of 2 GB was read whole (about 5 GB of memory) before failing without its name."""
    huge = project.path / "huge.csv"
    with open(huge, "wb") as out:
        out.truncate(2 << 30)  # sparse: no disk space, no time
    before = snapshot(project.reports)
    done = project.cli(*RUN, "-p", "mode", "data", "-p", "data_path", "huge.csv")
    assert_one_screen(
        done,
        2,
        f"dataset file {huge} holds 2,048 MB, more than the 256 MB a .csv file may hold here",
        "use a sample of it, or save it as .npz",
    )
    huge.unlink()
    assert_previous_report(project, before, failed=True)


def test_a_full_disk_while_the_kernel_writes_is_an_output_error(project):
    """#11: a full disk while the kernel wrote its results gave exit 3 without a path; the README
    promises 6 for reports/ that cannot be written."""
    before = snapshot(project.reports)
    done = project.cli(*RUN, "-p", "mode", "full")
    assert_one_screen(
        done,
        6,
        "notebook 99_tiny, cell 3: cannot write its outputs into reports: no space left on device",
        "free some space on the disk that holds reports, or give --reports a directory on "
        "another disk, then run again",
    )
    assert_previous_report(project, before, failed=True)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"split,y,u\ntrain,1,caf\xe9\n", "is not UTF-8 text (byte 0xe9); save it as UTF-8 CSV"),
        (b"split,y,u\ntrain,1," + b"9" * 200_000 + b"\n", "line 2: field larger than field limit"),
        (b'split,y,u\ntrain,1,"2\n', "line 2: unexpected end of data"),
        (b"\n\n\n", "lacks y, split"),
    ],
    ids=["not UTF-8", "a field of 200 kB", "an open quote", "only blank lines"],
)
def test_a_csv_that_cannot_be_read_names_the_file_and_the_line(tmp_path, content, message):
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_dataset_that_is_a_fifo_or_too_large_is_refused_unread(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(DatasetError, match="is a directory, FIFO or device, not a file"):
        load_dataset(tmp_path / "pipe.csv")
    with open(tmp_path / "big.npz", "wb") as out:
        out.truncate(3 << 30)
    with pytest.raises(DatasetError, match="holds 3,072 MB, more than the 1,024 MB a .npz file"):
        load_dataset(tmp_path / "big.npz")


def test_a_csv_is_read_into_floats_line_by_line(tmp_path):
    rows = "".join(f"{'train' if i % 4 < 2 else 'test'},{i % 2},{i},{-i}\n" for i in range(2000))
    (tmp_path / "d.csv").write_text("split,y,a,b\n" + rows)
    data = load_dataset(tmp_path / "d.csv", dtype="float64")
    assert data.x_train.shape == (1000, 2) and data.x_test.shape == (1000, 2)
    assert data.x_train[1].tolist() == [1.0, -1.0] and data.y_test.tolist()[:2] == [0, 1]
