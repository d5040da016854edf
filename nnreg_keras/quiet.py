"""Keeping TensorFlow's C++ log out of notebooks and terminal output.

TensorFlow logs a few lines to file descriptor 2 when it loads and on its first operation, before
`TF_CPP_MIN_LOG_LEVEL` or any Python setting can silence them; only redirecting the descriptor helps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def stderr_to(path: str | os.PathLike) -> Iterator[None]:
    """Send file descriptor 2 (inherited by child processes, such as a kernel) to `path`, appending."""
    saved = os.dup(2)
    with open(path, "ab") as target:
        os.dup2(target.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
