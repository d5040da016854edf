"""Generated faults: parameter values and file contents drawn by hypothesis, each through the
command as a user runs it (in this process, `faults_kit.Project.main`).

Whatever a value or a file holds, the command ends with an exit status it documents and a message
of one screen without a traceback, and a refused command leaves reports/ exactly as it was. A run
that passes every check stops at the notebook's lock, which the test holds (exit 7), so no kernel
starts.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import faults_kit as kit
from tests.faults_kit import STEM, assert_previous_report, snapshot

RUN = ["run", "99", "--profile", "quick", "--no-wait"]
NAMES = ["mode", "learning_rate", "l2", "steps", "record_every", "hidden_units", "data_path"]
NAMES += ["seeds", "label", "colour", ""]
GENERATED = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
YAML_PIECES = ["[", "]", "{", "}", ":", ", ", "- ", "!!", "&a ", "*a", "'", '"', "1e9", "0x1F"]
YAML_PIECES += ["null", "~", "yes", ".inf", "-.nan", "2024-01-01", "\n", "  ", "# c", "|", ">"]
YAML_PIECES += ["? ", "%YAML 1.1\n", "---\n", "!!binary aGk=", "!!set {a}", "9" * 30, "\\", "\t"]
yaml_text = st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=3), max_size=12).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


class Lock:
    """The notebook's lock, held by the test: a run that passes every check stops there."""

    def __init__(self, project: kit.Project):
        self.handle = open(project.reports / ".locks" / f"{STEM}.lock", "w")

    def __enter__(self):
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        self.handle.close()


def assert_documented(done, statuses: tuple[int, ...]) -> None:
    assert done.returncode in statuses, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 15, done.stderr
    if done.returncode:
        assert done.stderr.startswith("error:") or "\nerror:" in done.stderr, done.stderr


@GENERATED
@given(name=st.sampled_from(NAMES), value=yaml_text | st.text(max_size=30))
def test_any_override_is_refused_or_passes_every_check(project, name, value):
    before = snapshot(project.reports)
    with Lock(project):
        done = project.main(*RUN, "-p", name, value)
    assert_documented(done, (2, 7))
    assert_previous_report(project, before)


profiles = (
    st.binary(max_size=120)
    | yaml_text
    | st.dictionaries(
        st.sampled_from([STEM, "07_gone", "1"]) | st.text(max_size=5),
        st.none()
        | st.integers()
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), json_values, max_size=4),
        max_size=3,
    ).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
)


@GENERATED
@given(content=profiles)
def test_any_profile_is_refused_or_passes_every_check(project, content):
    profile = project.path / "params" / "quick.yaml"
    (profile.write_bytes if isinstance(content, bytes) else profile.write_text)(content)
    before = snapshot(project.reports)
    with Lock(project):
        done = project.main("run", "--profile", "quick", "--no-wait")
    assert_documented(done, (2, 7))
    assert_previous_report(project, before)


def notebooks(original: bytes):
    """Tutorials: random bytes, random JSON, or the notebook with one part of it replaced."""

    def replaced(path_and_value):
        book = json.loads(original)
        (where, value) = path_and_value
        target = book
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
        return json.dumps(book)

    parts = st.sampled_from(
        [("cells",), ("cells", 1), ("cells", 1, "source"), ("cells", 1, "metadata"), ("metadata",)]
        + [("nbformat",), ("cells", 1, "metadata", "tags"), ("cells", 1, "cell_type")]
    )
    return (
        st.binary(max_size=80)
        | json_values.map(json.dumps)
        | st.tuples(parts, json_values | yaml_text).map(replaced)
    )


@GENERATED
@given(data=st.data())
def test_any_tutorial_file_is_refused_or_passes_every_check(project, data):
    path = project.path / "tutorials" / f"{STEM}.ipynb"
    original = path.read_bytes()
    content = data.draw(notebooks(original))
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    before = snapshot(project.reports)
    try:
        with Lock(project):
            done = project.main(*RUN)
        assert_documented(done, (2, 7))
        assert_previous_report(project, before)
    finally:
        path.write_bytes(original)


LANDED = {
    "results": Path("runs") / STEM / "results" / f"{STEM}.json",
    "stamp": Path("runs") / STEM / "run.json",
    "executed notebook": Path("runs") / STEM / "notebooks" / f"{STEM}.ipynb",
}


def mutations(original: bytes):
    """A landed file: random bytes, random JSON, or its JSON with one key replaced or removed."""
    data = json.loads(original)

    def changed(choice):
        key, value, drop = choice
        copy = dict(data)
        if drop:
            copy.pop(key, None)
        else:
            copy[key] = value
        return json.dumps(copy)

    return (
        st.binary(max_size=80)
        | json_values.map(json.dumps)
        | st.tuples(st.sampled_from(sorted(data)), json_values, st.booleans()).map(changed)
    )


@pytest.mark.parametrize("which", list(LANDED))
def test_any_landed_file_is_read_or_the_report_names_its_repair(project, which):
    path = project.reports / LANDED[which]
    original, index = path.read_bytes(), (project.reports / "index.html").read_bytes()
    before = snapshot(project.reports)

    @GENERATED
    @given(content=mutations(original))
    def case(content):
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        damaged = snapshot(project.reports)
        try:
            done = project.main("report")
            assert_documented(done, (0, 5))
            if done.returncode == 5:
                assert "rerun the notebook: nnreg-keras run 99" in done.stderr
                assert_previous_report(project, damaged)
        finally:
            path.write_bytes(original)
            (project.reports / "index.html").write_bytes(index)

    case()
    assert_previous_report(project, before)


figures = (
    st.binary(max_size=80)
    | st.text(max_size=60)
    | st.builds(lambda a, b: f"{a}<svg{b}", st.text(max_size=20), st.text(max_size=40))
)


@GENERATED
@given(content=figures, suffix=st.sampled_from(["svg", "png"]))
def test_any_figure_file_is_inlined_safely_or_named(project, content, suffix):
    run = project.reports / "runs" / STEM
    results_path = run / "results" / f"{STEM}.json"
    original, index = results_path.read_bytes(), (project.reports / "index.html").read_bytes()
    results = json.loads(original)
    results["figures"] = [{"file": f"figures/{STEM}/f.{suffix}", "caption": "c", "alt": "a"}]
    results_path.write_text(json.dumps(results))
    figure = run / "figures" / STEM / f"f.{suffix}"
    figure.parent.mkdir(parents=True, exist_ok=True)
    (figure.write_bytes if isinstance(content, bytes) else figure.write_text)(content)
    damaged = snapshot(project.reports)
    try:
        done = project.main("report")
        assert_documented(done, (0, 5))
        if done.returncode == 5:
            assert f"figure file reports/runs/{STEM}/figures/{STEM}/f.{suffix}" in done.stderr
            assert_previous_report(project, damaged)
        else:
            page = (project.reports / "index.html").read_text()
            assert [x for x in kit.live_content(page) if "script" not in x] == []
            assert page.count("<script") == 1
    finally:
        results_path.write_bytes(original)
        (project.reports / "index.html").write_bytes(index)
        figure.unlink()
