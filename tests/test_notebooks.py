"""Every tutorial notebook, executed with the quick profile through the runner, in a temp dir."""

import json
import os
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from nnreg_keras.pipeline import report
from nnreg_keras.pipeline.contract import load
from nnreg_keras.pipeline.profiles import notebook_defaults
from nnreg_keras.pipeline.runner import discover, pick
from tests.conftest import ROOT, landed, run_quick

NOTEBOOKS = discover(ROOT / "tutorials")
# The notebooks the session's quick run holds (NNREG_TEST_ONLY may pick some).
RAN = pick(NOTEBOOKS, os.environ.get("NNREG_TEST_ONLY", "").split())
STEMS = [nb.stem for nb in RAN]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_committed_without_outputs_and_with_parameters(notebook: Path):
    nb = nbformat.read(str(notebook), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "clear the outputs before committing"
    )
    assert "parameters" in code[0].metadata.get("tags", []), (
        "the first code cell must be tagged 'parameters'"
    )
    assert nb.cells[0].cell_type == "markdown" and "> " in nb.cells[0].source, (
        "first cell: title and quoted question"
    )


MAX_CELL_LINES = 30


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_code_cells_stay_short(notebook: Path):
    nb = nbformat.read(str(notebook), as_version=4)
    long = {
        i: len(c.source.splitlines())
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and len(c.source.splitlines()) > MAX_CELL_LINES
    }
    assert not long, f"cells longer than {MAX_CELL_LINES} lines (index: lines): {long}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_papermill_lists_every_parameter_with_its_type_and_help(notebook: Path):
    listed = papermill.inspect_notebook(str(notebook))
    assert set(listed) == set(notebook_defaults(notebook)), (
        "papermill --help-notebook must list every parameter"
    )
    for name, p in listed.items():
        assert p["inferred_type_name"] not in ("None", "", None), f"{name}: no type annotation"
        assert p["help"], f"{name}: no help comment"


@pytest.mark.notebooks
def test_executed_notebooks_show_every_figure_inline_and_no_path_or_repr(quick_reports: Path):
    for stem in STEMS:
        figures = load(landed(quick_reports, stem))["figures"]
        nb = nbformat.read(str(landed(quick_reports, stem, "notebooks", ".ipynb")), as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        images = [o for o in outputs if "<figure>" in o.get("data", {}).get("text/html", "")]
        assert len(images) == len(figures), (
            f"{stem}: {len(images)} inline images for {len(figures)} figures"
        )
        text = json.dumps([o for o in outputs if o.get("output_type") != "error"])
        for bad in ("PosixPath(", "<Figure size", "object at 0x", "<IPython.core.display"):
            assert bad not in text, f"{stem}: an output shows {bad!r}"
        bare = [
            o["data"]["text/plain"]
            for o in outputs
            if o.get("output_type") == "execute_result" and set(o.get("data", {})) == {"text/plain"}
        ]
        assert not bare, f"{stem}: cells end with a bare value: {bare}"
        html = landed(quick_reports, stem, "notebooks", ".html").read_text()
        assert not re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html), (
            f"{stem}: the HTML page fetches"
        )


@pytest.mark.notebooks
def test_every_notebook_writes_valid_results_and_the_report_has_every_section(quick_reports: Path):
    for stem in STEMS:
        results = load(landed(quick_reports, stem))
        assert results["notebook"] == stem and results["profile"] == "quick"
        assert results["figures"] and results["tables"] and results["verdict"] and results["claims"]
        assert landed(quick_reports, stem, "notebooks", ".ipynb").is_file()
    html = report.build(quick_reports).read_text()
    assert html.count("<section id=") == len(STEMS)
    for stem in STEMS:
        assert f'<a href="runs/{stem}/notebooks/{stem}.html">' in html
        assert landed(quick_reports, stem, "notebooks", ".html").is_file()


@pytest.mark.notebooks
def test_every_claim_has_a_status_its_interval_supports_and_every_verdict_is_short(
    quick_reports: Path,
):
    for stem in STEMS:
        results = load(landed(quick_reports, stem))
        assert results["claims"], f"{stem} records no claims"
        for claim in results["claims"]:
            assert claim["status"] in ("held", "did not hold", "inconclusive")
            if claim["status"] == "held" and claim.get("interval"):
                low, high = claim["interval"]
                margin = claim.get("margin")
                if margin is not None:
                    assert -margin <= low and high <= margin, (stem, claim["name"])
                else:
                    assert low > 0 or high < 0, (stem, claim["name"])
        assert len(results["verdict"]["text"].split()) <= 60


@pytest.mark.notebooks
def test_same_profile_and_seed_give_identical_results(quick_reports: Path, tmp_path: Path):
    """The notebook that ran quickest in the quick run, run again: the same results, byte for byte."""
    durations = {
        stem: json.loads((quick_reports / "runs" / stem / "run.json").read_text())["duration"]
        for stem in STEMS
    }
    stem = min(durations, key=durations.get)
    run_quick([stem], tmp_path / "again")
    first = (landed(quick_reports, stem)).read_bytes()
    assert (landed(tmp_path / "again", stem)).read_bytes() == first


def _html_outputs(executed: Path) -> list[str]:
    nb = nbformat.read(str(executed), as_version=4)
    return [
        o["data"]["text/html"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]


@pytest.mark.notebooks
def test_notebook_and_report_draw_tables_and_number_figures_alike(quick_reports: Path):
    """One renderer: each table's HTML in the executed notebook is in the report as it is, and the
    figures carry the same numbers in both."""
    page = report.build(quick_reports).read_text()
    for stem in STEMS:
        outputs = _html_outputs(landed(quick_reports, stem, "notebooks", ".ipynb"))
        tables = [o for o in outputs if o.startswith('<div class="table-wrap"')]
        assert len(tables) == len(load(landed(quick_reports, stem))["tables"])
        section = page[page.index(f'<section id="{stem[:2]}') :]
        section = section[: section.index("</section>")]
        for table in tables:
            assert table in section, f"{stem}: a table differs between notebook and report"
        shown = re.findall(r"<figcaption>(Figure \d+)[ .]", "".join(outputs))
        reported = re.findall(r"<figcaption>(Figure \d+)\. ", section)
        assert list(dict.fromkeys(shown)) == reported, stem


TF_LOG = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d|tensorflow/|oneDNN|TF_ENABLE_ONEDNN_OPTS|absl::", re.M
)


@pytest.mark.notebooks
def test_executed_notebooks_show_no_tensorflow_start_up_log(quick_reports: Path):
    for stem in STEMS:
        nb = nbformat.read(str(landed(quick_reports, stem, "notebooks", ".ipynb")), as_version=4)
        streams = [
            o.get("text", "")
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.get("output_type") == "stream"
        ]
        logged = [line for text in streams for line in text.splitlines() if TF_LOG.search(line)]
        assert not logged, f"{stem} shows TensorFlow's log: {logged[:3]}"
