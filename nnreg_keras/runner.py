"""Executes tutorial notebooks through papermill and lands their outputs atomically.

For one notebook the runner: reads its `parameters` cell, merges the profile's values, checks them
(before any training), executes the notebook in a temporary directory inside `reports/`, validates
the results JSON it wrote, then moves figures, executed notebook and results (last) into place.
A failure leaves the previous outputs untouched; the failed notebook is kept in `reports/failed/`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from nnreg_keras import params as params_mod
from nnreg_keras import results as results_mod
from nnreg_keras.exceptions import NotebookError, ParameterError
from nnreg_keras.quiet import stderr_to


@dataclass(frozen=True)
class Layout:
    """Where the runner reads notebooks and profiles and writes its outputs."""

    tutorials: Path = Path("tutorials")
    params: Path = Path("params")
    reports: Path = Path("reports")

    def profile_path(self, profile: str) -> Path:
        return self.params / f"{profile}.yaml"


def discover(tutorials: Path) -> list[Path]:
    """The tutorial notebooks, in file-name order."""
    return sorted(p for p in Path(tutorials).glob("*.ipynb") if not p.name.startswith("."))


def select(notebooks: list[Path], selectors: list[str]) -> list[Path]:
    """Notebooks named by number prefix (`01`), stem, file name or path; all when none is given."""
    if not selectors:
        return notebooks
    chosen = []
    for sel in selectors:
        name = Path(sel).name.removesuffix(".ipynb").removesuffix(".json")
        matches = [nb for nb in notebooks if nb.stem == name or nb.stem.split("_")[0] == name]
        if len(matches) != 1:
            raise ParameterError(f"no single notebook matches {sel!r}; notebooks: "
                                 f"{', '.join(nb.stem for nb in notebooks) or 'none'}")
        chosen.append(matches[0])
    return chosen


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _replace(src: Path, dst: Path) -> None:
    """Move src over dst (file or directory) with renames on the same file system."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_dir():
        old = dst.with_name(f".old-{dst.name}")
        shutil.rmtree(old, ignore_errors=True)
        dst.rename(old)
        src.rename(dst)
        shutil.rmtree(old)
    else:
        os.replace(src, dst)


def checked_parameters(notebook: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """The notebook's defaults updated by `overrides`, after every check passed."""
    defaults = params_mod.notebook_defaults(notebook)
    return params_mod.check_parameters(notebook.stem, {**defaults, **overrides}, defaults)


def run_notebook(notebook: Path, profile: str, overrides: dict[str, Any],
                 layout: Layout = Layout()) -> dict[str, Any]:
    """Execute one notebook and land its outputs; return its validated results."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    stem = notebook.stem
    checked_parameters(notebook, overrides)
    layout.reports.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".run-{stem}-", dir=layout.reports))
    executed = work / "notebooks" / f"{stem}.ipynb"
    executed.parent.mkdir(parents=True)
    env = {"NNREG_OUTPUT_DIR": str(work.resolve()), "NNREG_NOTEBOOK": stem,
           "NNREG_PROFILE": profile, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "agg"}
    try:
        with _environment(env), stderr_to(work / "kernel.log"):
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=overrides, kernel_name="python3",
                cwd=str(notebook.parent), progress_bar=False, log_output=False)
        results = results_mod.read(work / "results" / f"{stem}.json")
        for fig in results["figures"]:
            if not (work / fig["file"]).is_file():
                raise NotebookError(f"notebook {stem}: figure {fig['file']} is listed but was not written")
        if (work / "figures" / stem).is_dir():
            _replace(work / "figures" / stem, layout.reports / "figures" / stem)
        _replace(executed, layout.reports / "notebooks" / f"{stem}.ipynb")
        _replace(work / "results" / f"{stem}.json", layout.reports / "results" / f"{stem}.json")
        return results
    except PapermillExecutionError as err:
        kept = layout.reports / "failed" / f"{stem}.ipynb"
        if executed.exists():
            _replace(executed, kept)
        raise NotebookError(f"notebook {stem} failed in cell {err.exec_count}: {err.ename}: "
                            f"{err.evalue}\n  executed notebook kept at {kept}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(selectors: list[str], profile: str, layout: Layout = Layout(),
        extra: dict[str, Any] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Check every selected notebook's parameters first, then execute them one by one."""
    notebooks = discover(layout.tutorials)
    chosen = select(notebooks, selectors)
    profile_values = params_mod.load_profile(layout.profile_path(profile), [nb.stem for nb in notebooks])
    plan = [(nb, {**profile_values.get(nb.stem, {}), **(extra or {})}) for nb in chosen]
    for nb, overrides in plan:
        checked_parameters(nb, overrides)
    all_results = []
    for i, (nb, overrides) in enumerate(plan, 1):
        start = time.perf_counter()
        if progress:
            print(f"[{i}/{len(plan)}] {nb.stem} (profile {profile}) ...", end=" ", flush=True)
        try:
            all_results.append(run_notebook(nb, profile, overrides, layout))
        except Exception:
            if progress:
                print("failed", flush=True)
            raise
        if progress:
            print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return all_results
