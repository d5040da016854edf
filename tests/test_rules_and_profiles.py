from pathlib import Path

import pytest

from nnreg_keras.exceptions import ParameterError
from nnreg_keras.pipeline.profiles import load_profile, notebook_defaults, notebook_parameters
from nnreg_keras.rules import check_parameters, check_rate, parameter_problems
from tests.conftest import write_notebook


@pytest.mark.parametrize(
    "name, value",
    [
        ("dropout_rate", 1.0),
        ("dropout_rate", -0.1),
        ("input_rates", [0.1, 1.2]),
        ("input_rates", []),
        ("l2", -1e-3),
        ("hidden_l2", -1),
        ("l2s", [0.1, -0.1]),
        ("width", 0),
        ("width", 2.5),
        ("steps", -5),
        ("epochs", 0),
        ("seeds", []),
        ("seeds", [1, 1]),
        ("seeds", [-1]),
        ("dataset", "mnist"),
        ("keep_prob", 0.0),
        ("learning_rate", 0),
        ("label_noise", 0.5),
        ("dropout_rate", True),
    ],
)
def test_bad_values_are_named_with_what_is_accepted(name, value):
    problems = parameter_problems({name: value})
    assert len(problems) == 1
    assert repr(name) in problems[0] and "accepted" in problems[0]


@pytest.mark.parametrize(
    "name, value",
    [
        ("dropout_rate", 0.0),
        ("dropout_rate", 0.99),
        ("l2", 0),
        ("width", 3),
        ("seeds", [0, 4]),
        ("dataset", "goalkeeper"),
        ("keep_prob", 1.0),
        ("input_rates", [0.0, 0.5]),
        ("learning_rate", 0.3),
    ],
)
def test_good_values_pass(name, value):
    assert parameter_problems({name: value}) == []


def test_learning_rate_is_not_a_dropout_rate():
    assert parameter_problems({"learning_rate": 3.0}) == []
    assert parameter_problems({"hidden_rate": 3.0}) == [
        "parameter 'hidden_rate' = 3.0: accepted a number in [0, 1)"
    ]


def test_type_of_default_is_kept_for_other_names():
    assert parameter_problems({"title": 3}, {"title": "x"}) == [
        "parameter 'title' = 3: accepted a value of type str like the default 'x'"
    ]
    assert (
        parameter_problems({"scale": 2}, {"scale": 1.5}) == []
    )  # an int where a float is expected


def test_check_parameters_names_notebook_and_every_problem():
    with pytest.raises(ParameterError) as err:
        check_parameters("01_x", {"dropout_rate": 1.5, "colour": "red"}, {"dropout_rate": 0.5})
    message = str(err.value)
    assert message.startswith("notebook 01_x:")
    assert "'dropout_rate' = 1.5: accepted a number in [0, 1)" in message
    assert "'colour' is unknown; accepted names: dropout_rate" in message


def test_notebook_defaults_reads_literals(tmp_path):
    nb = write_notebook(tmp_path / "n.ipynb", "a = 1  # one\nb = [0.1, 0.2]\nc = 'x'", "pass")
    assert notebook_defaults(nb) == {"a": 1, "b": [0.1, 0.2], "c": "x"}


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


def test_repository_profiles_name_real_notebooks(root: Path):
    stems = [p.stem for p in (root / "tutorials").glob("*.ipynb")]
    for profile in (root / "params").glob("*.yaml"):
        for stem, values in load_profile(profile, stems).items():
            defaults = notebook_defaults(root / "tutorials" / f"{stem}.ipynb")
            check_parameters(stem, {**defaults, **values}, defaults)


@pytest.mark.parametrize(
    "name, value, accepted",
    [
        ("l2", float("inf"), "a finite number >= 0"),
        ("learning_rate", float("inf"), "a finite number > 0"),
        ("learning_rate", float("nan"), "a finite number > 0"),
        ("dropout_rate", "nan", "a number in [0, 1)"),
        ("l2", -1e-3, "a finite number >= 0"),
        ("steps", 10**7, "a positive integer up to 1,000,000"),
        ("mc_samples", 10**6, "a positive integer up to 100,000"),
        ("n_train", 2 * 10**6, "a positive integer up to 1,000,000"),
        ("hidden_units", [20, 0], "a non-empty list, each item a positive integer up to 8,192"),
        ("hidden_units", 20, "a non-empty list, each item a positive integer up to 8,192"),
        ("steps", "many", "a positive integer up to 1,000,000"),
    ],
)
def test_non_finite_and_out_of_range_values_get_one_message_format(name, value, accepted):
    assert parameter_problems({name: value}) == [
        f"parameter {name!r} = {value!r}: accepted {accepted}"
    ]


def test_numbers_are_converted_to_the_accepted_type():
    values = check_parameters(
        "01_x",
        {
            "learning_rate": 1,
            "l2": "1e-3",
            "steps": "1e3",
            "width": 64.0,
            "hidden_units": [20.0, 3],
            "input_rates": ["0.5"],
        },
    )
    assert values == {
        "learning_rate": 1.0,
        "l2": 0.001,
        "steps": 1000,
        "width": 64,
        "hidden_units": [20, 3],
        "input_rates": [0.5],
    }
    assert type(values["learning_rate"]) is float and type(values["steps"]) is int


def test_steps_must_be_a_multiple_of_record_every():
    assert parameter_problems({"steps": 1000, "record_every": 300}) == [
        "parameter 'steps' = 1000: accepted a multiple of record_every (300), such as 900"
    ]
    assert parameter_problems({"steps": 900, "record_every": 300}) == []


def test_typed_parameter_lines_and_literal_choices(tmp_path):
    nb = write_notebook(
        tmp_path / "n.ipynb",
        "from typing import Literal\n\nwidth: int = 8  # units\n"
        'metric: Literal["loss", "accuracy"] = "loss"  # what a missing feature costs\n'
        'scale: float = 1.5  # a factor\nnames: list[str] = ["a"]  # names',
        "pass",
    )
    params = notebook_parameters(nb)
    assert notebook_defaults(nb) == {"width": 8, "metric": "loss", "scale": 1.5, "names": ["a"]}
    assert params["metric"].choices == ("loss", "accuracy") and params["width"].annotation == "int"
    with pytest.raises(ParameterError) as err:
        check_parameters("n", {"metric": "auc", "scale": "big", "names": "a", "width": 8}, params)
    assert str(err.value).splitlines() == [
        "notebook n: parameter 'metric' = 'auc': accepted one of: 'loss', 'accuracy'",
        "  parameter 'scale' = 'big': accepted a finite number",
        "  parameter 'names' = 'a': accepted a value of type list[str] like the default ['a']",
    ]
    assert check_parameters("n", {"scale": 2}, params) == {"scale": 2.0}


def test_paths_are_resolved_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "mydata").mkdir()
    (tmp_path / "mydata" / "good.mat").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert check_parameters("03", {"data_path": "mydata/good.mat"}) == {
        "data_path": str(tmp_path / "mydata/good.mat")
    }
    assert check_parameters("03", {"data_path": ""}) == {"data_path": ""}
    with pytest.raises(
        ParameterError, match=r"'data_path' = 'mydata': accepted .* \(.*mydata is a directory\)"
    ):
        check_parameters("03", {"data_path": "mydata"})
    with pytest.raises(ParameterError, match=r"\(.*mydata/none.mat does not exist\)"):
        check_parameters("03", {"data_path": "mydata/none.mat"})


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", True, None, float("nan")])
def test_check_rate_is_the_one_dropout_rate_check(rate):
    with pytest.raises(ParameterError, match=r"keep_rate must be a dropout rate in \[0, 1\)"):
        check_rate(rate, name="keep_rate")
    assert check_rate(0) == 0.0 and check_rate(0.5) == 0.5
