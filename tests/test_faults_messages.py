"""What the command says about reports/ after a failure, a signal or a lost standard output, and
the files of others it refuses to delete; in this process, from tables."""

from __future__ import annotations

import errno
import io
import json
import os
import signal

import pytest

from nnreg_keras.exceptions import NotebookError, OutputError
from nnreg_keras.pipeline import cli, landing


class Lost(io.StringIO):
    """A standard output whose reader went away, or whose disk is full."""

    def __init__(self, number: int):
        super().__init__()
        self.number = number

    def write(self, text: str) -> int:
        raise OSError(self.number, os.strerror(self.number))

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no file")


def landing_then(failure):
    def fake(args):
        landing.LANDED.append("03_lesson")
        print("[1/1] 03_lesson done")
        failure()

    return fake


def hang_up():
    os.kill(os.getpid(), signal.SIGHUP)


def terminate():
    os.kill(os.getpid(), signal.SIGTERM)


def interrupt():
    raise KeyboardInterrupt


def notebook_fails():
    raise NotebookError("notebook 04_other failed in cell 3: RuntimeError: boom")


def disk_full():
    raise OSError(errno.ENOSPC, "No space left on device", "reports/.index.html-x")


LANDED = (
    "the new run of 03_lesson landed in reports/runs, but reports/index.html was not rebuilt "
    "since: `nnreg-keras report` rebuilds it"
)
# (what happens after a run landed, exit status, the message)
AFTER_LANDING = {
    "SIGHUP": (hang_up, 129, f"error: terminated (SIGHUP); {LANDED}"),
    "SIGTERM": (terminate, 143, f"error: terminated (SIGTERM); {LANDED}"),
    "Ctrl-C": (interrupt, 130, f"error: interrupted; {LANDED}"),
    "the next notebook fails": (notebook_fails, 3, f"RuntimeError: boom; {LANDED}"),
    "the index cannot be written": (disk_full, 6, f"no space left on device; {LANDED}"),
}


@pytest.mark.parametrize("case", AFTER_LANDING, ids=list(AFTER_LANDING))
def test_a_failure_after_a_run_landed_says_so(monkeypatch, capsys, case):
    failure, status, message = AFTER_LANDING[case]
    monkeypatch.setattr(cli, "_main", landing_then(failure))
    assert cli.main(["report"]) == status
    err = capsys.readouterr().err
    assert message in err and "unchanged" not in err, err


def test_a_failure_before_anything_landed_says_the_report_is_unchanged(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_main", lambda args: terminate())
    assert cli.main(["report"]) == 143
    assert (
        "error: terminated (SIGTERM); the previous report is unchanged" in capsys.readouterr().err
    )


@pytest.mark.parametrize("number", [errno.EPIPE, errno.ENOSPC], ids=["| head -1", "> /dev/full"])
def test_a_lost_standard_output_does_not_stop_the_work(monkeypatch, capsys, number):
    done = []

    def work(args):
        print("[1/2] 03_lesson done", flush=True)
        done.append("04")
        print("report written to reports/index.html")

    monkeypatch.setattr(cli, "_main", work)
    monkeypatch.setattr("sys.stdout", Lost(number))
    assert cli.main(["report"]) == 0
    assert done == ["04"]
    err = capsys.readouterr().err
    assert "the command did its work, but its messages could not all be written" in err
    assert "unchanged" not in err and "cannot write" not in err


def landed_run(reports, stem="01_a"):
    run = reports / "runs" / stem
    (run / "results").mkdir(parents=True)
    (run / "figures" / stem).mkdir(parents=True)
    (run / "notebooks").mkdir()
    (run / "run.json").write_text("{}")
    figures = [{"file": f"figures/{stem}/curve.svg"}]
    (run / "results" / f"{stem}.json").write_text(json.dumps({"figures": figures}))
    (run / "figures" / stem / "curve.svg").write_text("<svg/>")
    return run


@pytest.mark.parametrize(
    "path",
    ["notes.txt", "figures/mine/plot.png", "figures/01_a/notes.txt", "results/01_a.csv"],
)
def test_files_a_user_put_in_a_run_directory_are_never_replaced(tmp_path, path):
    run = landed_run(tmp_path / "reports")
    landing.check_reports(tmp_path / "reports")  # what the package wrote
    (run / path).parent.mkdir(parents=True, exist_ok=True)
    (run / path).write_text("mine")
    with pytest.raises(OutputError) as err:
        landing.check_reports(tmp_path / "reports")
    assert f"{run / path}" in str(err.value) and "in a run directory, not one it wrote" in str(
        err.value
    )
    assert err.value.exit_code == 6


def test_runs_on_another_file_system_is_refused_before_any_kernel_starts(tmp_path):
    elsewhere = os.environ.get("NNREG_OTHER_FS", "/dev/shm")
    if not os.path.isdir(elsewhere) or os.stat(elsewhere).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip(f"no other file system at {elsewhere}")
    import tempfile

    other = tempfile.mkdtemp(dir=elsewhere)
    try:
        (tmp_path / "reports").mkdir()
        (tmp_path / "reports" / "runs").symlink_to(other)
        with pytest.raises(OutputError, match="is on another file system than") as err:
            landing.check_reports(tmp_path / "reports")
        assert err.value.exit_code == 6
    finally:
        os.rmdir(other)
