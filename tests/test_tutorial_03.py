"""Tutorial 03: the student-writable course functions and their check cells, and the lesson's
findings on the quick profile."""

import re

import nbformat
import numpy as np
import pytest

from nnreg_keras import scratch, stats
from nnreg_keras.data import make_goalkeeper
from nnreg_keras.pipeline.contract import load
from tests.conftest import ROOT, landed

STEM = "03_l2_vs_dropout_from_scratch"
NOTEBOOK = nbformat.read(str(ROOT / "tutorials" / f"{STEM}.ipynb"), as_version=4)
DATA = make_goalkeeper(n_train=40, n_test=10, label_noise=0.1, seed=0)
COURSE_FUNCTIONS = (
    "forward_propagation_with_dropout",
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "backward_propagation_with_dropout",
)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def index_defining(name: str) -> int:
    return next(
        i
        for i, cell in enumerate(NOTEBOOK.cells)
        if cell.cell_type == "code" and f"def {name}(" in cell.source
    )


def source(name: str) -> str:
    return NOTEBOOK.cells[index_defining(name)].source


def check_after(name: str) -> str:
    return NOTEBOOK.cells[index_defining(name) + 1].source


def tags(index: int) -> list[str]:
    return NOTEBOOK.cells[index].metadata.get("tags", [])


def run_cells(*sources: str) -> dict:
    """Execute cells with only what the notebook imports for them."""
    namespace = {"np": np, "scratch": scratch, "sigmoid": scratch.sigmoid, "relu": scratch.relu}
    for text in sources:
        exec(text, namespace)
    return namespace


def course_code(**replaced: str) -> list[str]:
    """The four solution cells and their check cells, in notebook order; `replaced` maps a function
    name to another source for its cell."""
    cells = []
    for name in COURSE_FUNCTIONS:
        cells += [replaced.get(name, source(name)), check_after(name)]
    return cells


def student_edition(text: str) -> str:
    """nbgrader's release step: each solution region becomes `raise NotImplementedError()`."""
    pattern = re.compile(rf"^(\s*){re.escape(BEGIN)}\n.*?^\s*{re.escape(END)}\n?", re.S | re.M)
    return pattern.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()\n", text)


def test_each_course_function_is_a_solution_region_followed_by_a_check_cell():
    for name in COURSE_FUNCTIONS:
        index = index_defining(name)
        text = NOTEBOOK.cells[index].source
        assert text.count(BEGIN) == 1 and text.count(END) == 1, name
        assert text.index(BEGIN) < text.index(END), name
        check = NOTEBOOK.cells[index + 1]
        assert check.cell_type == "code" and "check" in tags(index + 1), name
        assert check.source.count("assert ") >= 2 and "scratch." in check.source, name
    training = index_defining("model")
    assert all(index_defining(name) < training for name in COURSE_FUNCTIONS)
    model_source = source("model")
    for name in ("forward_propagation_with_dropout", "backward_propagation_with_dropout"):
        assert f"{name}(" in model_source  # the experiment trains with the student's functions
    assert "backward_propagation_with_regularization(" in model_source
    for line in ("A = A * D", "A = A / keep_prob", "dA = dA / keep_prob", "lambd / m * W"):
        assert line in "\n".join(source(name) for name in COURSE_FUNCTIONS)
    assert not any("course-code" in tags(i) for i in range(len(NOTEBOOK.cells)))


def test_the_check_cells_pass_with_the_solution():
    run_cells(*course_code())


@pytest.mark.parametrize(
    "name, wrong, message",
    [
        (
            "backward_propagation_with_dropout",
            ("dA = dA / keep_prob  #", "#"),  # the division left out
            "differ from the reference",
        ),
        (
            "backward_propagation_with_dropout",
            ("            dA = dA / keep_prob", "            dA = dA * keep_prob"),
            "then divide by keep_prob",
        ),
        (
            "backward_propagation_with_regularization",
            (" + lambd / m * W  # the L2 term", ""),
            "lambd / m \\* W",
        ),
        (
            "forward_propagation_with_dropout",
            ("                A = A / keep_prob", "                A = A / 1"),
            "divide by keep_prob",
        ),
        (
            "compute_cost_with_regularization",
            ("lambd / (2 * m) * squares", "lambd / m * squares"),
            "lambd / \\(2 \\* m\\)",
        ),
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
        compile(blank, name, "exec")  # the blanked cell is still valid Python
    namespace = run_cells(student_edition(source("forward_propagation_with_dropout")))
    X, _, parameters = scratch.check_case()
    with pytest.raises(NotImplementedError):
        namespace["forward_propagation_with_dropout"](X, parameters, 0.5, np.random.default_rng(0))


@pytest.mark.parametrize("dims", [[2, 5, 3, 1], [2, 6, 1]])
@pytest.mark.parametrize("keep_prob", [1.0, 0.8])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_the_course_functions_give_the_reference_cost_and_gradients(
    dims: list[int], keep_prob: float, lambd: float
):
    code = run_cells(*(source(name) for name in COURSE_FUNCTIONS))
    X, Y = scratch.course_splits(DATA, 5)["train"]
    parameters = scratch.model(X, Y, 20, learning_rate=0.3, layer_dims=dims, seed=1)
    AL, caches = code["forward_propagation_with_dropout"](
        X, parameters, keep_prob, np.random.default_rng(5)
    )
    masks = None
    if keep_prob < 1:
        masks = scratch.dropout_masks(dims[1:-1], X.shape[1], keep_prob, np.random.default_rng(5))
    cost, expected = scratch.cost_and_gradients(parameters, X, Y, lambd, keep_prob, masks)
    assert abs(code["compute_cost_with_regularization"](AL, Y, parameters, lambd) - cost) <= 1e-12
    if keep_prob < 1 and lambd:
        return  # the course never combines them: no single backward pass to compare
    if keep_prob < 1:
        grads = code["backward_propagation_with_dropout"](X, Y, caches, keep_prob)
    else:
        grads = code["backward_propagation_with_regularization"](X, Y, caches, lambd)
    assert max(scratch.gradient_gaps(grads, expected).values()) <= 1e-12


def test_the_course_functions_keep_float32_in_float32():
    code = run_cells(*(source(name) for name in COURSE_FUNCTIONS))
    X, Y, parameters = scratch.check_case()
    X, Y = X.astype("float32"), Y.astype("float32")
    parameters = {k: v.astype("float32") for k, v in parameters.items()}
    rng = np.random.default_rng(0)
    for keep_prob in (1.0, 0.8):
        _, caches = code["forward_propagation_with_dropout"](X, parameters, keep_prob, rng)
        backward = (
            code["backward_propagation_with_dropout"](X, Y, caches, keep_prob)
            if keep_prob < 1
            else code["backward_propagation_with_regularization"](X, Y, caches, 0.7)
        )
        assert {str(g.dtype) for g in backward.values()} == {"float32"}


def test_the_exercises_name_parameters_and_the_console_command():
    last = NOTEBOOK.cells[-1]
    assert last.cell_type == "markdown" and "exercises" in last.metadata.get("tags", [])
    commands = re.findall(r"`nnreg-keras run 03 -p (\w+) [^`]+`", last.source)
    assert len(commands) >= 3 and "python -m" not in last.source
    parameters = NOTEBOOK.cells[1].source
    assert all(re.search(rf"^{name}: ", parameters, re.M) for name in commands)
    assert "Predict" in last.source


def test_no_code_line_is_longer_than_100_characters():
    long = [
        (i, line)
        for i, cell in enumerate(NOTEBOOK.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > 100
    ]
    assert not long


def results_of(reports) -> dict:
    return load(landed(reports, STEM))


def claims_of(results: dict) -> dict:
    return {c["name"]: c for c in results["claims"]}


@pytest.mark.notebooks
def test_tutorial_03_statuses_follow_the_paired_intervals(quick_reports):
    results = results_of(quick_reports)
    compared = [c for c in results["claims"] if "interval" in c]
    assert len(compared) >= 7
    for claim in compared:
        expected = stats.status_of(claim["interval"], claim["expect"], claim.get("margin"))
        assert claim["status"] == expected, claim["name"]
        assert claim["seeds"] == len(results["seeds"])
    claims = claims_of(results)
    for name in ("l2_generalizes_better", "dropout_generalizes_better", "adamw_beats_plain_adam"):
        assert -0.2 < claims[name]["difference"] < 0.2, name  # accuracies: differences in [0, 1]
    assert claims["l2_and_dropout_tie"]["margin"] == 0.02
    assert len(results["verdict"]["text"].split()) <= 60


@pytest.mark.notebooks
def test_tutorial_03_exact_mechanics_hold(quick_reports):
    claims = claims_of(results_of(quick_reports))
    for name in ("l2_is_a_shrink", "dropped_units_stay_still", "keras_twin_same_gradients"):
        assert claims[name]["status"] == "held", claims[name]["text"]
    assert claims["one_mask_leaves_more_unchanged"]["difference"] > 0
    assert claims["per_example_masks_silence_more_pairs"]["difference"] > 0
    metrics = results_of(quick_reports)["metrics"]
    assert metrics["l2_shrink_gap"] < 1e-12 and metrics["keras_gradient_gap"] < 1e-5


@pytest.mark.notebooks
def test_tutorial_03_shows_each_share_beside_its_baselines(quick_reports):
    results = results_of(quick_reports)
    table = next(t for t in results["tables"] if t["caption"].startswith("One step"))
    assert [row[0] for row in table["rows"]][:2] == ["plain step", "L2 step"]
    assert any("at initialization" in column for column in table["columns"])
    l2_row = table["rows"][1]
    assert l2_row[1].startswith("0.0 ±") and l2_row[2].startswith("0.0 ±")
    assert "dropout rate 0.14 (keep_prob 0.86)" in table["caption"]
    assert "course λ 0.7" in table["caption"]


@pytest.mark.notebooks
def test_tutorial_03_runs_the_precision_controls(quick_reports):
    results = results_of(quick_reports)
    claims = claims_of(results)
    assert "float32_rounding_suffices" in claims and "keras_float64_agrees_longer" in claims
    assert claims["keras_float64_agrees_longer"]["difference"] >= 0
    assert "fixed mask" not in str(results["figures"])


@pytest.mark.notebooks
def test_tutorial_03_sets_plain_adam_adam_plus_l2_and_adamw_side_by_side(quick_reports):
    results = results_of(quick_reports)
    table = next(t for t in results["tables"] if any(row[0] == "AdamW" for row in t["rows"]))
    assert [row[0] for row in table["rows"]] == [
        "SGD, no regularization",
        "SGD + L2",
        "Adam",
        "Adam + L2",
        "AdamW",
    ]
    assert "chosen on validation" in table["caption"]
    claims = claims_of(results)
    assert claims["adamw_decay_shrinks_weights"]["expect"] == "lower"
    assert {"adamw_beats_plain_adam", "adamw_beats_adam_plus_l2"} <= set(claims)
    markdown = "\n".join(c.source for c in NOTEBOOK.cells if c.cell_type == "markdown")
    assert "Loshchilov" in markdown and "AdamW" in markdown


@pytest.mark.notebooks
def test_tutorial_03_winner_column_names_a_winner_only_outside_zero(quick_reports):
    results = results_of(quick_reports)
    table = next(t for t in results["tables"] if t["caption"].startswith("Test accuracy"))
    claims = claims_of(results)
    rows = {row[0]: row for row in table["rows"]}
    for label, name in (("L2", "l2_generalizes_better"), ("dropout", "dropout_generalizes_better")):
        row = next(r for key, r in rows.items() if key.startswith(label))
        low, high = claims[name]["interval"]
        assert (row[-1] == "tie") == (low <= 0 <= high)
