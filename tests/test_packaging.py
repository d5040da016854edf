"""The package as others install it: a wheel and an sdist that ship the templates, the lessons and
the profiles, an installed wheel that builds a report and writes a lesson folder from any directory,
and a lock file that pins every dependency pyproject.toml declares."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from nnreg_keras import recording
from tests.conftest import ROOT
from tests.test_report import fake_results

LOCK = ROOT / "requirements.txt"
LOCKED_EXTRAS = (
    "dev",
    "jax",
)  # what `make lock` resolves and `make` installs; torch stays optional


SHIPPED = ("templates", "tutorials", "params")  # top-level folders the package carries inside it


def copy_sources(target: Path) -> Path:
    """What the repository holds for a build (no build files in the work tree)."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("nnreg_keras", *SHIPPED):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def build_wheel(source: Path, dist: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("nnreg_keras-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package's wheel, built from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("wheel")
    return build_wheel(copy_sources(tmp / "source"), tmp / "dist")


def shipped_files() -> list[str]:
    """Every file of the shipped folders, as `folder/name`."""
    return sorted(
        f"{folder}/{p.name}"
        for folder in SHIPPED
        for p in (ROOT / folder).iterdir()
        if p.is_file() and not p.name.startswith(".")
    )


def test_the_wheel_ships_the_templates_the_lessons_the_profiles_and_the_command(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    assert {"tutorials/README.md", "params/quick.yaml", "templates/report.css"} <= set(
        shipped_files()
    )
    assert [n for n in shipped_files() if n.endswith(".ipynb")], "no tutorial found"
    for name in (
        *(f"nnreg_keras/{n}" for n in shipped_files()),
        "nnreg_keras/pipeline/results.schema.json",
        "nnreg_keras/pipeline/report.py",
        "nnreg_keras/metrics.py",
    ):
        assert name in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert (
        "nnreg-keras = nnreg_keras.pipeline.cli:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_the_installed_wheel_builds_a_report_from_another_directory(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    reports, elsewhere = tmp_path / "reports", tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake_results(
        reports,
        "01_first",
        "First lesson",
        environment={
            "keras_backend": "jax",
            "python": "3.11",
            "packages": {"keras": "3"},
            "lock_sha256": "0123abcd",
            "git_commit": "abc123",
        },
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "nnreg_keras", "report", "--reports", str(reports)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    where = subprocess.run(
        [sys.executable, "-c", "import nnreg_keras.pipeline.report as r; print(r.TEMPLATES)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (
        Path(where) == site / "nnreg_keras" / "templates"
    )  # the installed copy, not the source tree
    html = (reports / "index.html").read_text()
    assert '<section id="01-first"' in html and "<style>" in html
    assert "<dd><code>0123abcd</code></dd>" in html  # the lock's hash in the provenance


def test_the_sdist_ships_them_and_builds_a_wheel_that_does(tmp_path: Path):
    source = copy_sources(tmp_path / "source")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(tmp_path / "sdist"),
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "sdist").glob("nnreg_keras-*.tar.gz")
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        assert {f"{top}/{n}" for n in shipped_files()} <= set(archive.getnames())
        archive.extractall(tmp_path / "unpacked", filter="data")
    rebuilt = build_wheel(tmp_path / "unpacked" / top, tmp_path / "dist")
    names = zipfile.ZipFile(rebuilt).namelist()
    assert {f"nnreg_keras/{n}" for n in shipped_files()} <= set(names)


def test_the_installed_wheel_writes_its_lessons_out_from_any_directory(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "from nnreg_keras.pipeline import lessons; print(lessons.find())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"tutorials=PosixPath('{site}/nnreg_keras/tutorials')" in where and "package" in where
    done = subprocess.run(
        [sys.executable, "-m", "nnreg_keras", "init", "lessons"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    written = sorted(
        str(p.relative_to(elsewhere / "lessons")) for p in (elsewhere / "lessons").rglob("*.*")
    )
    assert written == sorted(["README.md", *(n for n in shipped_files() if "templates" not in n)])
    readme = (elsewhere / "lessons" / "README.md").read_text()
    assert f"    pip install {wheel}\n" in readme  # how this copy was installed, to repeat it


def declared_requirements() -> list[Requirement]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for extra in LOCKED_EXTRAS for r in project["optional-dependencies"][extra]]
    return [Requirement(r) for r in project["dependencies"] + extras]


def locked_versions() -> dict[str, str]:
    """Package name -> pinned version, for the lines of the lock that apply to this Python and platform."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                (spec,) = req.specifier
                assert spec.operator == "==", f"{line}: the lock pins exact versions"
                pins[req.name.lower().replace("_", "-")] = spec.version
    return pins


def test_the_lock_pins_every_declared_dependency_inside_its_range():
    pins = locked_versions()
    for req in declared_requirements():
        name = req.name.lower().replace("_", "-")
        assert name in pins, (
            f"{req.name} is declared in pyproject.toml but not in requirements.txt: run make lock"
        )
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.txt pins {req.name}=={pins[name]} outside pyproject's {req.specifier}: run make lock"
        )
    assert "torch" not in pins  # the optional torch extra is never installed by default


def test_results_record_the_hash_of_the_lock():
    assert recording.lock_sha256() == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert recording.lock_sha256(ROOT / "no_such.lock") == "unknown"


def test_the_environment_holds_its_libraries_compiled_to_bytecode():
    """make sets PYTHONDONTWRITEBYTECODE, so nothing compiles Python files after the install: an
    environment installed without bytecode (uv without --compile-bytecode) compiles Keras and
    TensorFlow anew in every kernel, and `import keras` takes 8 s instead of 3."""
    import importlib.util

    import keras
    import numpy

    for module in (keras, numpy):
        cached = importlib.util.cache_from_source(module.__file__)
        assert Path(cached).is_file(), f"{module.__name__} is installed without bytecode ({cached})"
