"""Files the package ships beside its code, found in a source checkout and in an installed wheel.

The report's templates and CSS have one copy, the top-level `templates/` of the repository; the
wheel carries it as `nnreg_keras/templates/` (see `[tool.setuptools.package-dir]` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    """`nnreg_keras/<name>` in a wheel, else `<name>/` at the top of the source checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


TEMPLATES = _shipped("templates")
