"""Output files: checked before the work that produces them, written atomically."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

# Errors that are about the output file or its device, not about the data being written
# (a download's network error is an OSError too, and must keep its own message).
_DEVICE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO,
                  errno.EACCES, errno.EPERM}


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


def _remove_stale_parts(path: Path) -> None:
    """Delete temporary files that earlier writers of `path` left behind when they were
    killed (kill -9 cannot be cleaned up after): those whose process no longer exists."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.pid(\d+)\.[^.]*\.part")
    for candidate in path.parent.glob(f".{path.name}.pid*.part"):
        match = pattern.fullmatch(candidate.name)
        if match is None or int(match[1]) == os.getpid():
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            candidate.unlink(missing_ok=True)
        except (PermissionError, OverflowError):  # alive under another user / not a pid
            pass


def _naming(error: OSError, path: Path) -> OSError:
    """The same error, saying which file it was about (not the temporary one)."""
    return OSError(error.errno, f"cannot write {path}: {error.strerror}")


def atomic_write(path, write) -> None:
    """Call write(binary_file) on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX: readers see the old file or the new one, never a mix.
    On any error (or Ctrl-C) the temporary file is removed and `path` is untouched; one left
    by a killed process is removed by the next write. Errors of the disk (full, read-only)
    name `path`. The result gets the permissions a plain write would have given (mkstemp
    creates 0600).
    """
    path = Path(path)
    _remove_stale_parts(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pid{os.getpid()}.",
                                   suffix=".part")
    except OSError as e:
        raise _naming(e, path) from e
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.errno in _DEVICE_ERRORS:
            raise _naming(e, path) from e
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
