"""Output files: checked before the work that produces them, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def writable_problem(path) -> str | None:
    """Why `path` cannot be written (a directory, a missing or read-only folder), or None.

    Probes by creating and removing a temporary file beside it, so programs can refuse a
    bad output path before minutes of work rather than after.
    """
    path = Path(path)
    if path.is_dir():
        return f"cannot write {path}: it is a directory"
    if not path.parent.resolve().is_dir():
        return f"cannot write {path}: directory {path.parent} does not exist"
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        return f"cannot write {path}: {e.strerror or e}"
    return None


def _new_file_mode(path: Path) -> int:
    """The mode a plain open() would give: the old file's, else 0o666 minus the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, write) -> None:
    """Call write(binary_file) on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX: readers see the old file or the new one, never a mix.
    On any error (or Ctrl-C) the temporary file is removed and `path` is untouched. The
    result gets the permissions a plain write would have given (mkstemp creates 0600).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
