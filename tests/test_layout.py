"""The package's shape: the design card's top level, a lesson library that loads no pipeline code,
a pipeline that imports no lesson helper, and a Makefile that reruns notebooks for lesson code only."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LESSON_HELPERS = {"scratch", "twin", "adaptive", "reliance", "subnetworks", "sweeps"}
LIBRARY = sorted(
    p.stem for p in (ROOT / "nnreg_keras").glob("*.py") if p.stem not in ("__init__", "__main__")
)
PIPELINE_PACKAGES = ("nnreg_keras.pipeline", "papermill", "nbformat", "nbconvert", "jinja2")


def test_the_top_level_is_the_design_cards():
    for name in ("tutorials", "nnreg_keras", "templates", "tests", "requirements.txt", "README.md"):
        assert (ROOT / name).exists(), f"the design card's top level has no {name}"
    assert not (ROOT / "nnreg_keras" / "templates").exists(), "templates/ is the one copy"
    assert not (ROOT / "requirements.lock").exists()


def test_importing_the_lesson_library_loads_no_pipeline_code():
    code = (
        "import sys, json, importlib\n"
        f"for name in {['nnreg_keras'] + [f'nnreg_keras.{m}' for m in LIBRARY]!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({PIPELINE_PACKAGES!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize("path", sorted((ROOT / "nnreg_keras" / "pipeline").glob("*.py")))
def test_the_pipeline_imports_no_lesson_helper(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {node.module.split(".")[-1], *(a.name for a in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[-1] for a in node.names}
    assert not imported & LESSON_HELPERS, f"{path.name} imports {imported & LESSON_HELPERS}"


def _notebook_prerequisites() -> list[str]:
    """What make's rule for a notebook's run depends on, read from make's database (dry run)."""
    database = subprocess.run(
        ["make", "-pnq", "FORCE"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    (line,) = [x for x in database.splitlines() if x.startswith("reports/runs/%/run.json:")]
    return line.split(":", 1)[1].split("|")[0].split()


def test_a_pipeline_change_reruns_no_notebook_and_a_lesson_change_reruns_them_all():
    prerequisites = _notebook_prerequisites()
    assert not [p for p in prerequisites if p.startswith("nnreg_keras/pipeline/")]
    assert not [p for p in prerequisites if p.startswith("templates/")]
    for module in LIBRARY:
        assert f"nnreg_keras/{module}.py" in prerequisites


def test_reporting_is_at_most_a_fifth_of_a_core_lessons_code():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "reporting_share", ROOT / "benchmarks" / "reporting_share.py"
    )
    counter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(counter)
    notebooks = sorted((ROOT / "tutorials").glob("[0-9]*.ipynb"))
    assert len(notebooks) >= 5
    shares = {nb.stem: round(counter.share(nb)["share of lines"], 3) for nb in notebooks}
    # The core lessons (01-05) keep reporting to a fifth of their code; a Going further notebook,
    # which compares more settings in fewer lines of training, to two fifths.
    limit = {stem: 0.2 if stem[:2] <= "05" else 0.4 for stem in shares}
    assert {k: v for k, v in shares.items() if v > limit[k]} == {}
    assert all(v > 0 for v in shares.values())  # every lesson reports something


def test_make_starts_the_longest_notebook_first_even_before_any_run(tmp_path):
    """A notebook's last run (its stamp's duration) decides, else `make bench`'s time, else it goes
    first: notebooks side by side then finish close together on a fresh checkout too."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text("{}\n")
    (tmp_path / "tutorials").mkdir()
    for stem in ("01_short", "02_long", "03_ran", "04_new"):
        (tmp_path / "tutorials" / f"{stem}.ipynb").write_text("{}")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "notebook_seconds.txt").write_text(
        "# seconds\n01_short 10\n02_long 50\n03_ran 5\n"
    )
    ran = tmp_path / "reports" / "runs" / "03_ran"
    ran.mkdir(parents=True)
    (ran / "run.json").write_text('{\n  "duration": 30.5,\n  "notebook": "03_ran"\n}\n')
    done = subprocess.run(
        ["make", "-s", "--eval", "order: ; @echo $(RUNS_LONGEST_FIRST)", "order"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    order = [run.split("/")[2] for run in done.stdout.split()]
    assert order == ["04_new", "02_long", "03_ran", "01_short"]
