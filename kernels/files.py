"""Atomic file writes: a crash or an error never leaves a partial file at the target path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> None:
    """Call write(binary_file) on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX: readers see the old file or the new one, never a mix.
    On any error (or Ctrl-C) the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
