"""Tutorial 03 (how L2 and dropout differ) and its going-further notebook 08 (precision, one mask
per batch, AdamW): the student-writable course functions and their check cells, the lesson's
plain-Keras structure, and the findings of both on the quick profile."""

import ast
import json
import re

import nbformat
import numpy as np
import pytest

from nnreg_keras import scratch, stats, twin
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.recording import numbers_in
from nnreg_keras.training import fit_many
from tests.conftest import ROOT, landed
from tests.lesson_checks import check_lesson

STEM = "03_l2_vs_dropout_from_scratch"
GOING_FURTHER = "08_precision_and_adamw"
PATH = ROOT / "tutorials" / f"{STEM}.ipynb"
NOTEBOOK = nbformat.read(str(PATH), as_version=4)
DATA = make_goalkeeper(n_train=40, n_test=10, label_noise=0.1, seed=0)
COURSE_FUNCTIONS = ("forward_propagation_with_dropout", "backward_propagation")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def index_defining(name: str) -> int:
    return next(
        i
        for i, cell in enumerate(NOTEBOOK.cells)
        if cell.cell_type == "code" and f"def {name}(" in cell.source
    )


def source(name: str) -> str:
    return NOTEBOOK.cells[index_defining(name)].source


def definition(name: str) -> str:
    """Only the `def name(...)` of its cell, without the cell's other statements."""
    cell = source(name)
    node = next(n for n in ast.parse(cell).body if getattr(n, "name", None) == name)
    return ast.get_source_segment(cell, node)


def check_after(name: str) -> str:
    return NOTEBOOK.cells[index_defining(name) + 1].source


def code() -> str:
    return "\n".join(c.source for c in NOTEBOOK.cells if c.cell_type == "code")


def run_cells(*sources: str) -> dict:
    """Execute cells with only what the notebook imports for them."""
    namespace = {"np": np, "scratch": scratch, "sigmoid": scratch.sigmoid, "relu": scratch.relu}
    for text in sources:
        exec(text, namespace)
    return namespace


def course_code(**replaced: str) -> list[str]:
    """The solution cells and their check cells, in notebook order; `replaced` maps a function
    name to another source for its cell."""
    cells = []
    for name in COURSE_FUNCTIONS:
        cells += [replaced.get(name, source(name)), check_after(name)]
    return cells


def student_edition(text: str) -> str:
    """nbgrader's release step: each solution region becomes `raise NotImplementedError()`."""
    pattern = re.compile(rf"^(\s*){re.escape(BEGIN)}\n.*?^\s*{re.escape(END)}\n?", re.S | re.M)
    return pattern.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()\n", text)


def test_each_course_function_is_an_nbgrader_solution_followed_by_a_graded_check():
    for k, name in enumerate(COURSE_FUNCTIONS, start=1):
        cell = NOTEBOOK.cells[index_defining(name)]
        assert cell.source.count(BEGIN) == 1 and cell.source.count(END) == 1, name
        assert cell.metadata["nbgrader"] == {
            "grade": False,
            "grade_id": f"03_solution_{k}",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        check = NOTEBOOK.cells[index_defining(name) + 1]
        assert "check" in check.metadata["tags"] and "assert " in check.source, name
        assert check.metadata["nbgrader"]["grade_id"] == f"03_check_{k}"
        assert check.metadata["nbgrader"]["points"] == 1 and check.metadata["nbgrader"]["locked"]
    others = [c for c in NOTEBOOK.cells if "nbgrader" in c.metadata]
    assert len(others) == 2 * len(COURSE_FUNCTIONS)
    first_training = next(i for i, c in enumerate(NOTEBOOK.cells) if "model.fit(" in c.source)
    assert all(index_defining(name) < first_training for name in COURSE_FUNCTIONS)


def test_the_lesson_keeps_the_lesson_conventions_and_a_core_lessons_budgets():
    check_lesson(PATH, core=True)


def test_the_lesson_is_plain_keras_trained_by_model_fit_first():
    text = code()
    assert re.search(r"^import keras$", text, re.M)
    assert "from nnreg_keras.training import keras" not in text and "check_parameters" not in text
    for layer in ("keras.layers.Dense(", "keras.layers.Dropout(", "keras.regularizers.L2("):
        assert layer in text
    assert text.index("model.fit(") < text.index("fit_many(")
    assert "# The same full-batch training as model.fit above" in text
    assert "BitsDropout" not in text and "one mask" not in text  # the variant lives in 08
    # the one-step measurement runs the student's own passes
    step = source("step")
    assert "forward_propagation_with_dropout(X, net" in step and "backward_propagation(" in step


def test_the_check_cells_pass_with_the_solution():
    run_cells(*course_code())


@pytest.mark.parametrize(
    "name, wrong, message",
    [
        ("backward_propagation", ("dA * D_prev / keep_prob", "dA * D_prev"), "keep_prob 0.7"),
        ("backward_propagation", (" + lambd / m * W", ""), "lambd 0.7"),
        ("forward_propagation_with_dropout", ("A * D / keep_prob", "A * D"), "divide by keep_prob"),
    ],
)
def test_a_wrong_piece_fails_its_check_with_a_readable_message(
    name: str, wrong: tuple[str, str], message: str
):
    assert wrong[0] in source(name)
    broken = source(name).replace(*wrong)
    cells = course_code(**{name: broken})
    failing = cells.index(broken) + 1  # its check cell
    run_cells(*cells[:failing])
    with pytest.raises(AssertionError, match=message):
        run_cells(*cells[: failing + 1])


def test_the_student_edition_raises_until_the_regions_are_written():
    for name in COURSE_FUNCTIONS:
        blank = student_edition(source(name))
        assert BEGIN not in blank and "raise NotImplementedError()" in blank
        compile(blank, name, "exec")
    namespace = run_cells(student_edition(source("forward_propagation_with_dropout")))
    X, _, parameters = scratch.check_case()
    with pytest.raises(NotImplementedError):
        namespace["forward_propagation_with_dropout"](X, parameters, 0.5)


@pytest.mark.parametrize("dims", [[2, 5, 3, 1], [2, 6, 1]])
@pytest.mark.parametrize("keep_prob, lambd", [(1.0, 0.0), (1.0, 0.7), (0.8, 0.0)])
def test_the_course_functions_give_the_reference_cost_gradients(
    dims: list[int], keep_prob: float, lambd: float
):
    functions = run_cells(*(source(name) for name in COURSE_FUNCTIONS))
    X, Y = scratch.course_splits(DATA, 5)["train"]
    parameters = scratch.model(X, Y, 20, learning_rate=0.3, layer_dims=dims, seed=1)
    masks = scratch.dropout_masks(dims[1:-1], X.shape[1], keep_prob, np.random.default_rng(5))
    masks = masks if keep_prob < 1 else None
    AL, caches = functions["forward_propagation_with_dropout"](X, parameters, keep_prob, masks)
    expected_AL, _ = scratch.forward_propagation_with_dropout(X, parameters, keep_prob, masks=masks)
    np.testing.assert_allclose(AL, expected_AL, rtol=0, atol=1e-12)
    grads = functions["backward_propagation"](X, Y, caches, lambd, keep_prob)
    expected = scratch.cost_and_gradients(parameters, X, Y, lambd, keep_prob, masks)[1]
    assert max(scratch.gradient_gaps(grads, expected).values()) <= 1e-12


def test_the_course_functions_keep_float32_in_float32():
    functions = run_cells(*(source(name) for name in COURSE_FUNCTIONS))
    X, Y, parameters = scratch.check_case()
    X, Y = X.astype("float32"), Y.astype("float32")
    parameters = {k: v.astype("float32") for k, v in parameters.items()}
    masks = scratch.dropout_masks([4, 3], 5, 0.8, np.random.default_rng(0))
    for keep_prob, given in ((1.0, None), (0.8, masks)):
        _, caches = functions["forward_propagation_with_dropout"](X, parameters, keep_prob, given)
        grads = functions["backward_propagation"](X, Y, caches, 0.7, keep_prob)
        assert {str(g.dtype) for g in grads.values()} == {"float32"}


def test_fit_many_gives_model_fits_weights_for_the_lessons_models():
    """The labelled side-by-side cell trains 03's plain and L2 models as the tiled `model.fit`
    above it does (dropout draws its masks from another stream, so only its shape is compared)."""
    x, y = DATA.x_train, DATA.y_train
    namespace = {"keras": __import__("keras"), "np": np, "scratch": scratch, "twin": twin}
    namespace.update(hidden_units=[5, 3], learning_rate=0.3, m=len(x), dims=[2, 5, 3, 1])
    exec(definition("build_model"), namespace)
    build = namespace["build_model"]
    steps, record_every = 40, 10
    for lambd in (0.0, 0.7):
        by_fit = build(3, lambd)
        by_fit.fit(
            np.tile(x, (record_every, 1)),
            np.tile(y, record_every),
            batch_size=len(x),
            epochs=steps // record_every,
            verbose=0,
            shuffle=False,
        )
        side_by_side = [build(3, lambd), build(4, lambd)]
        fit_many(side_by_side, x, y, steps, record_every)
        for a, b in zip(by_fit.get_weights(), side_by_side[0].get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_parameters_are_class_sized_and_declare_their_rules():
    defaults = notebook_defaults(PATH)
    assert len(defaults["seeds"]) <= 4 and defaults["steps"] <= 2000
    parameters = NOTEBOOK.cells[1].source.splitlines()
    assert all(re.search(r"; (in |each in |one of |a file)", line) for line in parameters)


def test_the_exercises_name_parameters_and_the_console_command():
    last = NOTEBOOK.cells[-1]
    assert last.cell_type == "markdown" and "exercises" in last.metadata.get("tags", [])
    commands = re.findall(r"`nnreg-keras run 03 -p (\w+) [^`]+`", last.source)
    assert len(commands) >= 3 and set(commands) <= set(notebook_defaults(PATH))
    assert "Predict" in last.source and "python -m" not in last.source


def test_no_code_line_is_longer_than_100_characters():
    for path in (PATH, ROOT / "tutorials" / f"{GOING_FURTHER}.ipynb"):
        cells = nbformat.read(str(path), as_version=4).cells
        lines = [line for c in cells if c.cell_type == "code" for line in c.source.splitlines()]
        assert max(len(line) for line in lines) <= 100, path.name


def results_of(reports, stem: str = STEM) -> dict:
    return load(landed(reports, stem))


def parameters_of(reports, stem: str = STEM) -> dict:
    """The parameters the run used, as the runner keeps them beside the results."""
    return json.loads((reports / "runs" / stem / "run.json").read_text())["parameters"]


def claims_of(results: dict) -> dict:
    return {c["name"]: c for c in results["claims"]}


@pytest.mark.notebooks
def test_tutorial_03_statuses_follow_their_intervals_and_the_verdict_is_plain(quick_reports):
    results = results_of(quick_reports)
    claims = claims_of(results)
    assert set(claims) == {
        "l2_generalizes_better",
        "dropout_generalizes_better",
        "l2_and_dropout_tie",
        "dropout_step_leaves_more_weights_unchanged",
        "dropout_step_silences_more_weight_example_pairs",
    }
    for claim in claims.values():
        assert claim["status"] == stats.claim_status(claim), claim["name"]
    assert claims["l2_and_dropout_tie"]["margin"] == 0.02
    assert -0.2 < claims["l2_generalizes_better"]["difference"] < 0.2  # accuracies in [0, 1]
    verdict = results["verdict"]["text"]
    assert verdict.startswith("L2 shrinks every weight") and "keep_prob" not in verdict
    assert len(numbers_in(verdict)) <= 2
    assert ("weight-example pairs" in verdict) == (
        claims["dropout_step_silences_more_weight_example_pairs"]["status"] == "held"
    )


@pytest.mark.notebooks
def test_tutorial_03_shows_each_share_beside_its_baselines(quick_reports):
    results = results_of(quick_reports)
    table = next(t for t in results["tables"] if t["caption"].startswith("One step"))
    assert [row[0] for row in table["rows"]] == [
        "plain step",
        "L2 step",
        "dropout, masks per example",
    ]
    assert sum("at initialization" in column for column in table["columns"]) == 2
    assert table["rows"][1][1].startswith("0.0 ±") and table["rows"][1][2].startswith("0.0 ±")
    claims = claims_of(results)
    assert claims["dropout_step_silences_more_weight_example_pairs"]["difference"] > 0
    assert "one mask" not in str(results)  # the variant is 08's, named as such there


@pytest.mark.notebooks
def test_tutorial_03_names_each_validated_choice_and_its_grid(quick_reports):
    claims = claims_of(results_of(quick_reports))
    parameters = parameters_of(quick_reports)
    for name, grid in (
        ("l2_generalizes_better", "lambds"),
        ("dropout_generalizes_better", "keep_probs"),
    ):
        pattern = r"chosen(?: per seed)?: \[([^\]]*)\], (\d+) of (\d+) at the grid's edge"
        chosen, on_edge, total = re.search(pattern, claims[name]["text"]).groups()
        picks, offered = [float(v) for v in chosen.split(",")], parameters[grid]
        assert len(picks) == int(total) == len(parameters["seeds"]), name
        assert set(picks) <= set(offered), name
        assert int(on_edge) == sum(p in (min(offered), max(offered)) for p in picks), name


@pytest.mark.notebooks
def test_08_keeps_the_precision_controls_the_variant_and_tuned_adamw(quick_reports):
    results = results_of(quick_reports, GOING_FURTHER)
    claims = claims_of(results)
    assert claims["keras_twin_same_gradients"]["status"] == "held"
    assert {"float32_rounding_suffices", "keras_float64_agrees_longer"} <= set(claims)
    assert claims["dropped_units_stay_still"]["status"] == "held"
    assert "one_mask_leaves_more_unchanged" in claims
    assert "adamw_beats_tuned_adam_plus_l2" in claims and "adamw_beats_plain_adam" not in claims
    assert claims["adamw_decay_shrinks_weights"]["expect"] == "lower"
    table = next(t for t in results["tables"] if any(row[0] == "AdamW" for row in t["rows"]))
    assert [row[0] for row in table["rows"]] == ["Adam", "Adam + L2", "AdamW"]
    variant = next(t for t in results["tables"] if t["caption"].startswith("Weights one step"))
    assert variant["rows"][-1][0] == "dropout, one mask per batch (a variant)"
    assert len(numbers_in(results["verdict"]["text"])) <= 2
