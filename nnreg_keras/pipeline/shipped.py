"""Files the package ships beside its code, found in a source checkout and in an installed wheel.

The report's templates and CSS, the tutorial notebooks (with the teachers' guide) and the parameter
profiles each have one copy, at the top of the repository: `templates/`, `tutorials/`, `params/`.
The wheel and the sdist carry them as `nnreg_keras/templates/`, `nnreg_keras/tutorials/` and
`nnreg_keras/params/` (see `[tool.setuptools.package-dir]` in pyproject.toml), so the installed
package can build a report, run its own lessons and write them out (`nnreg-keras init DIR`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    """`nnreg_keras/<name>` in a wheel, else `<name>/` at the top of the source checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


TEMPLATES = _shipped("templates")
TUTORIALS = _shipped("tutorials")  # the lessons: NN_name.ipynb, and README.md, the teachers' guide
PARAMS = _shipped("params")  # the profiles: default.yaml, quick.yaml


def lesson_stems() -> list[str]:
    """The stems of the notebooks the package ships, in file-name order."""
    return sorted(p.stem for p in TUTORIALS.glob("*.ipynb") if not p.name.startswith("."))
