"""Reading and writing files safely: a bounded read of a regular file as UTF-8 text, a write in
one step, a removal that never follows a link, and one-line messages for what goes wrong."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nnreg_keras.exceptions import NnregError, OutputError

STAMP_BYTES = 1 << 20  # a stamp holds a few parameters


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets under the current umask (0644 under the usual 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def kind(path: Path) -> str:
    """What is at `path`, without following a symbolic link: 'file', 'directory', 'symbolic
    link', 'FIFO', 'socket', 'character device', 'block device' or 'nothing'."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "nothing"
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def _a(what: str) -> str:
    return ("an " if what[0] in "aeiou" else "a ") + what


def size_text(size: int) -> str:
    """A size in bytes as '2.0 GB', '12 MB', '1.5 kB'."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} bytes"


def read_text(
    path: Path, what: str, error: type[NnregError], fix: str, limit: int = STAMP_BYTES
) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; else `error` naming the file,
    what is wrong with it and `fix`. A FIFO or a device is never opened (a read could block or
    never end), and a file is never read past `limit`."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; {fix}") from None
    except OSError as err:
        raise error(f"{what} {path} cannot be read ({_reason(err)}); {fix}") from None
    if not stat.S_ISREG(info.st_mode):
        found = kind(path.resolve()) if path.is_symlink() else kind(path)
        raise error(f"{what} {path} is {_a(found)}, not a file; {fix}")
    if info.st_size > limit:
        raise error(
            f"{what} {path} holds {size_text(info.st_size)}, more than the "
            f"{size_text(limit)} accepted; {fix}"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise error(f"{what} {path} cannot be read ({_reason(err)}); {fix}") from None
    if len(data) > limit:
        raise error(f"{what} {path} holds more than the {size_text(limit)} accepted; {fix}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(
            f"{what} {path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); {fix}"
        ) from None


def _reason(err: OSError) -> str:
    return os.strerror(err.errno).lower() if err.errno else str(err)


@contextlib.contextmanager
def writing(what: Path | str) -> Iterator[None]:
    """Turn a failed write (permissions, a full disk) into a one-line OutputError."""
    try:
        yield
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(
            f"cannot write {err.filename or what}: {_reason(err)}; check its permissions and the "
            f"free space on its disk, then run again"
        ) from None


def write_text(path: Path, text: str) -> Path:
    """Write a file in one step (a temporary file renamed over it), with the ordinary mode."""
    path = Path(path)
    with writing(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def remove(path: Path) -> None:
    """Delete a file, a link or a directory if it exists (a link is removed, never followed)."""
    with writing(path):
        if kind(path) == "directory":
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()
