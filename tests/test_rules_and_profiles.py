"""Parameter rules declared in a notebook's parameters cell, and the refusals they give before any
kernel starts: every case runs the command line in this process, from one table."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.pipeline import cli
from nnreg_keras.pipeline.profiles import (
    load_profile,
    notebook_defaults,
    notebook_parameters,
    override_values,
    typed,
)
from nnreg_keras.rules import check_rate, check_values, parse
from tests.conftest import write_notebook

CELL = """data_path: str = ""  # a .mat, .npz or .csv file, or "" for the goalkeeper data; a file
n_val: int = 500  # validation examples, to choose the strength; in [1, 100000]
keep_probs: list[float] = [0.86, 0.95]  # keep_probs to choose from; each in (0, 1]; at least 1
adam_learning_rate: float = 0.01  # step size of Adam and AdamW; in (0, 1]
weight_decays: list[float] = [0.1, 0.3]  # AdamW weight_decay to choose from; each in [0, inf)
seeds: list[int] = [3, 4, 5]  # one data draw and init each; each in [0, 2**31); at least 2; distinct
moved_feature: str = "height"  # the feature whose units change; one of "height", "weight"
steps: int = 100  # gradient steps per model; in [1, 1000000]
title: str = "a: b"  # a text shown as it is"""


def lesson(tmp_path: Path, cell: str = CELL, stem: str = "03_lesson") -> Path:
    """A lesson folder with one notebook whose parameters cell is `cell`; it would fail if run."""
    write_notebook(tmp_path / "tutorials" / f"{stem}.ipynb", cell, "raise SystemExit('ran')")
    (tmp_path / "params").mkdir(exist_ok=True)
    (tmp_path / "params" / "quick.yaml").write_text(f"{stem}:\n  steps: 10\n")
    return tmp_path


def two_parameters_cells(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    second = nbformat.v4.new_code_cell("steps = 5")
    second.metadata["tags"] = ["parameters"]
    nb.cells.append(second)
    nbformat.write(nb, str(path))


def no_parameters_cell(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[1].metadata["tags"] = []
    nbformat.write(nb, str(path))


NB = "tutorials/03_lesson.ipynb"
# (arguments after `run 03 --profile quick`, environment, a change to the folder, status, message)
REFUSED = {
    "negative n_val": (
        ["-p", "n_val", "-5"],
        {},
        None,
        2,
        "parameter 'n_val' = -5: accepted an integer in [1, 100000]",
    ),
    "one seed": (
        ["-p", "seeds", "[3]"],
        {},
        None,
        2,
        "parameter 'seeds' = [3]: accepted a list of at least 2 items, all different, each an "
        "integer in [0, 2**31)",
    ),
    "repeated seeds": (["-p", "seeds", "[3, 3]"], {}, None, 2, "all different"),
    "unknown feature": (
        ["-p", "moved_feature", "nosuch"],
        {},
        None,
        2,
        "parameter 'moved_feature' = 'nosuch': accepted one of \"height\", \"weight\"",
    ),
    "data_path of another kind": (
        ["-p", "data_path", "/etc/hostname"],
        {},
        None,
        2,
        "parameter 'data_path' = '/etc/hostname': accepted \"\" or the path of an existing file "
        "(.mat or .npz or .csv) (hostname is not .mat or .npz or .csv)",
    ),
    "data_path that is not its kind inside": (
        ["-p", "data_path", "fake.npz"],
        {},
        lambda root: (root / "fake.npz").write_text("not a zip"),
        2,
        "(fake.npz does not hold .npz data)",
    ),
    "data_path of 5000 characters": (
        ["-p", "data_path", "x" * 5000],
        {},
        None,
        2,
        "(this is not a path: 5,000 characters)",
    ),
    "a directory as data_path": (["-p", "data_path", "tutorials"], {}, None, 2, "is a directory"),
    "Adam's rate 0": (
        ["-p", "adam_learning_rate", "0"],
        {},
        None,
        2,
        "parameter 'adam_learning_rate' = 0: accepted a number in (0, 1]",
    ),
    "Adam's rate 1.5": (["-p", "adam_learning_rate", "1.5"], {}, None, 2, "in (0, 1]"),
    "keep_probs 0": (
        ["-p", "keep_probs", "[0]"],
        {},
        None,
        2,
        "parameter 'keep_probs' = [0]: accepted a list of at least 1 item, each a number in (0, 1]",
    ),
    "negative weight decay": (["-p", "weight_decays", "[-0.1]"], {}, None, 2, "in [0, inf)"),
    "a text for a number": (["-p", "steps", "many"], {}, None, 2, "'steps' = 'many'"),
    "a float for an integer": (["-p", "steps", "2.5"], {}, None, 2, "'steps' = 2.5"),
    "not a finite number": (["-p", "adam_learning_rate", ".nan"], {}, None, 2, "= nan"),
    "unknown parameter": (
        ["-p", "colour", "red"],
        {},
        None,
        2,
        "parameter 'colour' is unknown; accepted names: data_path, n_val, keep_probs",
    ),
    "invalid YAML": (["-p", "seeds", "[0, 1"], {}, None, 2, "the value is not valid YAML"),
    "numpy backend": (
        [],
        {"KERAS_BACKEND": "numpy"},
        None,
        2,
        "KERAS_BACKEND='numpy' is not a Keras backend that trains; accepted: tensorflow, jax, torch",
    ),
    "unknown backend": ([], {"KERAS_BACKEND": "theano"}, None, 2, "accepted: tensorflow"),
    "two parameters cells": (
        [],
        {},
        lambda root: two_parameters_cells(root / NB),
        2,
        "notebook 03_lesson.ipynb has 2 cells tagged 'parameters' (cells 2, 4); the second would "
        "override the values given to the first",
    ),
    "no parameters cell": (
        [],
        {},
        lambda root: no_parameters_cell(root / NB),
        2,
        "notebook 03_lesson.ipynb has no cell tagged 'parameters'",
    ),
    "a rule that does not parse": (
        [],
        {},
        lambda root: lesson(root, CELL.replace("in [1, 100000]", "in [1, 100000")),
        2,
        "notebook 03_lesson.ipynb, parameters cell, line 2: n_val: int = 500",
    ),
    "a bound on a text": (
        [],
        {},
        lambda root: lesson(root, CELL + "  # not a rule; in [0, 1]"),
        2,
        "line 9: title: str",
    ),
    "a default that breaks its rule": (
        [],
        {},
        lambda root: lesson(root, CELL.replace("n_val: int = 500", "n_val: int = 0")),
        2,
        "parameter 'n_val' = 0: accepted an integer in [1, 100000]",
    ),
    "non-UTF-8 reports/.profile": (
        "no profile",
        {},
        lambda root: (root / "reports").mkdir() or (root / "reports/.profile").write_bytes(b"\xff"),
        2,
        ".profile should name the profile of the last report, but it is not UTF-8 text; delete it",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_input_is_refused_before_any_kernel_starts(tmp_path, monkeypatch, capsys, case):
    args, env, change, status, message = REFUSED[case]
    root = lesson(tmp_path)
    if change:
        change(root)
    monkeypatch.chdir(root)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = ["run", "03", "--no-report"] + (
        ["--profile", "quick", *args] if args != "no profile" else []
    )
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.splitlines()) <= 15, err
    assert not (root / "reports" / "runs").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-5", "soon"])
def test_a_cell_timeout_is_a_positive_number_of_seconds(tmp_path, monkeypatch, capsys, value):
    monkeypatch.chdir(lesson(tmp_path))
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "03", f"--cell-timeout={value}"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"--cell-timeout: {value!r} is not a number of seconds above 0" in err
    assert len(err.splitlines()) <= 8  # argparse's usage, then the one line


def test_values_reach_the_notebook_typed(tmp_path):
    from nnreg_keras.pipeline.runner import plan

    nb = lesson(tmp_path) / NB
    extra = override_values(
        [("seeds", "[0, 1]"), ("n_val", "1e3"), ("title", "a: b: c"), ("moved_feature", "weight")]
    )
    job = plan(nb, "quick", {"steps": 10, "keep_probs": [1]}, extra)
    assert job.inject == {
        "steps": 10,
        "keep_probs": [1.0],
        "seeds": [0, 1],
        "n_val": 1000,
        "title": "a: b: c",
        "moved_feature": "weight",
    }
    assert type(job.inject["keep_probs"][0]) is float and type(job.inject["n_val"]) is int
    assert job.overrides == {
        "seeds": [0, 1],
        "n_val": 1000,
        "title": "a: b: c",
        "moved_feature": "weight",
    }
    assert job.parameters["adam_learning_rate"] == 0.01


def test_the_rules_are_read_from_papermills_help_text(tmp_path):
    rules = notebook_parameters(lesson(tmp_path) / NB)
    assert notebook_defaults(lesson(tmp_path) / NB)["seeds"] == [3, 4, 5]
    seeds = rules["seeds"]
    assert (seeds.type, seeds.at_least, seeds.distinct, str(seeds.bounds)) == (
        "list[int]",
        2,
        True,
        "[0, 2**31)",
    )
    assert seeds.description == "one data draw and init each"
    assert rules["data_path"].file and rules["data_path"].suffixes == (".mat", ".npz", ".csv")
    assert rules["moved_feature"].choices == ("height", "weight")
    assert not rules["title"].declared and rules["title"].description == "a text shown as it is"


def test_a_parameter_without_a_declared_rule_is_checked_for_its_type_only():
    """No rule by name: a `*_rate` without a declared range takes any finite number."""
    rules = {
        "dropout_rate": parse("dropout_rate", "float", 0.5, "a rate"),
        "widths": parse("widths", "list[int]", [1], "widths"),
        "name": parse("name", None, "x", "a name"),
    }
    values = {"dropout_rate": 3, "widths": [], "name": "y"}
    assert check_values("n", rules, values) == {"dropout_rate": 3.0, "widths": [], "name": "y"}
    with pytest.raises(ParameterError) as err:
        check_values("n", rules, {"dropout_rate": "x", "widths": [1.5], "name": 3})
    assert str(err.value).splitlines() == [
        "notebook n: parameter 'dropout_rate' = 'x': accepted a finite number",
        "  parameter 'widths' = [1.5]: accepted a list of items, each an integer",
        "  parameter 'name' = 3: accepted a text",
    ]


@pytest.mark.parametrize(
    "comment, good, bad",
    [
        ("x; in [0, 1)", [0, 0.5], [1, -0.1]),
        ("x; in (0, inf)", [1e9], [0, float("inf")]),
        ("x; in [-1, 1]", [-1, 1], [1.01]),
        ("x; in [0, inf]", [float("inf")], [float("nan")]),
    ],
)
def test_bounds_hold_their_open_and_closed_ends(comment, good, bad):
    rule = parse("x", "float", 0.5, comment)
    assert [rule.convert(v) for v in good] == [float(v) for v in good]
    with pytest.raises(ParameterError):
        check_values("n", {"x": rule}, {"x": bad[0]})


def test_text_given_on_the_command_line_keeps_a_text_parameter_as_written():
    rules = {"title": parse("title", "str", "", "t"), "n": parse("n", "int", 1, "n; in [1, 9]")}
    values = override_values([("title", "2024-01-01"), ("n", "3")])
    assert check_values("n", rules, values, typed) == {"title": "2024-01-01", "n": 3}


def test_profile_errors(tmp_path):
    with pytest.raises(ParameterError, match="does not exist; available profiles: none"):
        load_profile(tmp_path / "nope.yaml", ["01_a"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("01_a: [1, 2\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_profile(bad, ["01_a"])
    bad.write_text("- 1\n")
    with pytest.raises(ParameterError, match="must map notebook names"):
        load_profile(bad, ["01_a"])
    bad.write_text("09_missing:\n  steps: 3\n")
    with pytest.raises(
        ParameterError, match="names notebooks that do not exist: 09_missing; notebooks: 01_a"
    ):
        load_profile(bad, ["01_a"])
    bad.write_text("01_a:\n  steps: 3\n")
    assert load_profile(bad, ["01_a"]) == {"01_a": {"steps": 3}}


def test_repository_profiles_follow_each_notebooks_rules(root: Path):
    stems = [p.stem for p in (root / "tutorials").glob("*.ipynb")]
    for profile in (root / "params").glob("*.yaml"):
        for stem, values in load_profile(profile, stems).items():
            rules = notebook_parameters(root / "tutorials" / f"{stem}.ipynb")
            check_values(stem, rules, values)


def test_paths_are_made_absolute_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "mydata").mkdir()
    (tmp_path / "mydata" / "good.csv").write_text("1,2\n")
    monkeypatch.chdir(tmp_path)
    rule = {"data_path": parse("data_path", "str", "", "a .csv file; a file")}
    assert check_values("03", rule, {"data_path": "mydata/good.csv"}) == {
        "data_path": str(tmp_path / "mydata/good.csv")
    }
    assert check_values("03", rule, {}) == {"data_path": ""}
    with pytest.raises(ParameterError, match=r"\(.*mydata/none.csv does not exist\)"):
        check_values("03", rule, {"data_path": "mydata/none.csv"})


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", True, None, float("nan")])
def test_check_rate_is_the_one_dropout_rate_check(rate):
    with pytest.raises(ParameterError, match=r"keep_rate must be a dropout rate in \[0, 1\)"):
        check_rate(rate, name="keep_rate")
    assert check_rate(0) == 0.0 and check_rate(0.5) == 0.5


def test_every_shipped_notebook_declares_types_papermill_reads(root: Path):
    for nb in sorted((root / "tutorials").glob("*.ipynb")):
        rules = notebook_parameters(nb)
        assert rules and all(r.type for r in rules.values()), nb.name
        json.dumps({k: r.default for k, r in rules.items()})


def test_a_path_under_a_home_that_cannot_be_found_names_it(tmp_path, monkeypatch):
    rules = notebook_parameters(lesson(tmp_path) / NB)
    for value, why in (
        ("~no-such-user/data.csv", "there is no user 'no-such-user' for ~no-such-user"),
        ("~/data.csv", "HOME is not set, for ~"),
    ):
        if value.startswith("~/"):  # no HOME, and no entry for this user: ~ cannot expand
            monkeypatch.setattr("os.path.expanduser", lambda path: path)
        with pytest.raises(ParameterError) as err:
            check_values("n", rules, {"data_path": value})
        assert f"parameter 'data_path' = {value!r}" in str(err.value)
        assert f"({value}: {why})" in str(err.value)
