"""Lesson folders: where `nnreg-keras run` finds its notebooks and profiles, and `nnreg-keras init`.

A lesson folder holds `tutorials/` (the notebooks, with the teachers' guide `tutorials/README.md`)
and `params/` (the profiles); `reports/` is written beside them. The repository is one, and
`nnreg-keras init DIR` writes another anywhere, from the copy the package ships. The command finds
its lessons in this order: `--tutorials` when given; `tutorials/` of the current directory; the
current directory itself when it is the `tutorials/` of a lesson folder (a command run from inside
a notebook: the lesson folder's profiles and reports are used); the notebooks of the current
directory (a folder of student editions, a notebook saved from Colab); else the lessons the
package ships. Profiles come from `params/` of the current directory (or beside the `--tutorials`
given), else from the package, and reports go to `reports/` of the current directory.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import NnregError, ParameterError
from nnreg_keras.pipeline.runner import discover
from nnreg_keras.pipeline.shipped import PARAMS, TEMPLATES, TUTORIALS

GUIDE = "README.md"  # the teachers' guide, in tutorials/
DEFAULT_PROFILE = "default"
PROFILE_FILE = ".profile"  # in reports/: the profile of the last full report (make writes it too)


@dataclass(frozen=True)
class Lessons:
    """Where one command reads notebooks and profiles and writes reports, and why there."""

    tutorials: Path
    params: Path
    reports: Path
    found: str  # "given", "here", "above", "package": how the notebooks were found

    def note(self) -> str | None:
        """One line saying where the lessons come from, when it is not the usual place."""
        if self.found == "package":
            return (
                f"lessons: the copy installed with the package ({self.tutorials}), as there is "
                f"no tutorials/ here; reports to {self.reports}/ here "
                "(`nnreg-keras init DIR` writes the lessons out to edit)"
            )
        if self.found == "here" and self.tutorials.resolve() == Path.cwd().resolve():
            return f"lessons: the notebooks of this directory; reports to {self.reports}/"
        if self.found == "above":
            folder = Path.cwd().parent
            return f"lessons: the lesson folder {folder}; reports to {folder / 'reports'}/"
        return None


def find(
    tutorials: Path | None = None, params: Path | None = None, reports: Path | None = None
) -> Lessons:
    """The lessons a command works on (see the module's docstring for the order)."""
    if tutorials is not None:
        tutorials, found = Path(tutorials), "given"
        beside = [Path("params"), tutorials.parent / "params"]
    elif discover(Path("tutorials")):
        tutorials, found, beside = Path("tutorials"), "here", [Path("params")]
    elif Path.cwd().name == "tutorials" and discover(Path(".")) and Path("../params").is_dir():
        return Lessons(
            Path("."), Path(params or "../params"), Path(reports or "../reports"), "above"
        )
    elif discover(Path(".")):
        tutorials, found, beside = Path("."), "here", [Path("params")]
    else:
        tutorials, found, beside = TUTORIALS, "package", []
    if params is None:
        params = next((p for p in beside if p.is_dir()), PARAMS)
    return Lessons(tutorials, Path(params), Path(reports or "reports"), found)


def last_profile(reports: Path, params: Path) -> str:
    """The profile of the last full report (`reports/.profile`) when its file exists, else
    `default`: a run without --profile keeps the report on one profile."""
    path = Path(reports) / PROFILE_FILE
    try:
        name = path.read_bytes()[:256].decode("utf-8").strip()
    except OSError:
        return DEFAULT_PROFILE
    except UnicodeDecodeError:
        raise ParameterError(
            f"{path} should name the profile of the last report, but it is not UTF-8 text; "
            f"delete it (the next full report writes it again), or give --profile NAME"
        ) from None
    return name if name and (Path(params) / f"{name}.yaml").is_file() else DEFAULT_PROFILE


def remember_profile(reports: Path, profile: str) -> None:
    """Note the profile of a full report in `reports/.profile`, as `make report` does."""
    path = Path(reports) / PROFILE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text().strip() != profile:
        path.write_text(profile + "\n")


def clean_notebook(nb: Any) -> Any:
    """A copy of a notebook without outputs, execution counts or papermill's run metadata."""
    clean = copy.deepcopy(nb)
    for cell in clean.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "papermill"):
            cell.metadata.pop(key, None)
    clean.metadata.pop("papermill", None)
    return clean


def write_notebook(nb: Any, path: Path) -> Path:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def install_command() -> str:
    """How this copy of nnreg_keras was installed, as a pip command another machine can repeat
    where the source is reachable: a git URL, a wheel or a folder; else the package's name."""
    from importlib import metadata

    try:
        dist = metadata.distribution("nnreg_keras")
        recorded = json.loads(dist.read_text("direct_url.json") or "null")
        version = dist.version
    except (metadata.PackageNotFoundError, json.JSONDecodeError):
        recorded, version = None, None
    if not recorded:
        return f"pip install nnreg_keras=={version}" if version else "pip install nnreg_keras"
    url = recorded.get("url", "")
    vcs = recorded.get("vcs_info")
    if vcs:
        commit = vcs.get("commit_id")
        return f"pip install git+{url}" + (f"@{commit}" if commit else "")
    return f"pip install {url.removeprefix('file://')}"


def _readme(notebooks: list[Path], profiles: list[str]) -> str:
    """The lesson folder's README.md (templates/lesson_folder.md.j2)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, keep_trailing_newline=True
    )
    first = notebooks[0].stem.split("_")[0] if notebooks else "01"
    return env.get_template("lesson_folder.md.j2").render(
        notebooks=notebooks, profiles=profiles, first=first, install=install_command()
    )


def init(target: Path) -> list[Path]:
    """Write a lesson folder at `target`: the shipped notebooks without outputs, the teachers'
    guide, the profiles and a short README. Nothing is written over an existing file."""
    target = Path(target)
    notebooks = discover(TUTORIALS)
    profiles = sorted(PARAMS.glob("*.yaml"))
    if not notebooks:
        raise NnregError(f"the package ships no notebooks (looked in {TUTORIALS})")
    planned = [target / "README.md", target / "tutorials", target / "params"]
    taken = [p for p in planned if p.exists()]
    if taken:
        raise NnregError(
            f"{target} already has {', '.join(p.name for p in taken)}; nothing was written "
            "(choose a new directory)"
        )
    import nbformat

    written = []
    for nb_path in notebooks:
        nb = clean_notebook(nbformat.read(str(nb_path), as_version=4))
        written.append(write_notebook(nb, target / "tutorials" / nb_path.name))
    if (TUTORIALS / GUIDE).is_file():
        written.append(Path(shutil.copyfile(TUTORIALS / GUIDE, target / "tutorials" / GUIDE)))
    (target / "params").mkdir()
    for profile in profiles:
        written.append(Path(shutil.copyfile(profile, target / "params" / profile.name)))
    readme = target / "README.md"
    readme.write_text(_readme(notebooks, [p.stem for p in profiles]), encoding="utf-8")
    written.append(readme)
    return written
