"""Progress of a running notebook, shown on the terminal that started it.

Training loops note each record (`guards.check_record` calls `recording.note_progress`), one line
appended to the file named by the environment variable `NNREG_PROGRESS`, which the runner sets for the kernel. The
runner reads that file and redraws one line per notebook: models trained so far, the step of the
current one, time elapsed and an estimate from the previous run. Nothing is printed inside the
kernel, so executed notebooks stay clean; nothing is drawn when output is not a terminal (CI logs).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO


def latest(path: Path) -> tuple[int, str, int]:
    """Models started, the current model's name and its last recorded step."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0, "", 0
    ticks = [t for t in (line.split("\t", 2) for line in lines) if len(t) == 3 and t[1].isdigit()]
    if not ticks:
        return 0, "", 0  # a model's name may hold anything: lines that do not parse are skipped
    first, step, model = ticks[-1]
    return sum(t[0] == "1" for t in ticks), model, int(step)


def line(label: str, path: Path, elapsed: float, previous: dict | None) -> str:
    """The progress line: `label  model 3 of about 8 (wide, step 400)  12 s of about 40 s`."""
    models, model, step = latest(path)
    text = label
    if models:
        total = (previous or {}).get("models")
        text += (
            f"  model {models}"
            + (f" of about {total}" if total else "")
            + f" ({model}, step {step})"
        )
    text += f"  {elapsed:.0f} s"
    duration = (previous or {}).get("duration")
    if duration:
        text += f" of about {duration:.0f} s"
    return text


class Display:
    """Redraws the progress line every `interval` seconds while a notebook runs, on a terminal only."""

    def __init__(
        self,
        label: str,
        path: Path,
        previous: dict | None = None,
        stream: TextIO = sys.stdout,
        interval: float = 0.5,
    ):
        self.label, self.path, self.previous = label, Path(path), previous
        self.stream, self.interval = stream, interval
        self.live = stream.isatty() and "--jobserver" not in os.environ.get("MAKEFLAGS", "")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._draw, daemon=True)
        self.start = time.monotonic()

    def _draw(self) -> None:
        while not self._stop.wait(self.interval):
            text = line(self.label, self.path, time.monotonic() - self.start, self.previous)
            self.stream.write("\r\033[K" + text)
            self.stream.flush()

    def __enter__(self) -> Display:
        if self.live:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\033[K")
            self.stream.flush()
