"""auto's decisions kept across processes: a JSON file of {environment: {configuration:
backend}}, used only when CONVBENCH_AUTO_CACHE is set (a path, or 1 for
~/.cache/convbench/auto.json).

The environment key (`environment_key`) names everything a timing depends on: the CPU model
and count, Numba's thread count, the Python/NumPy/Numba versions and a digest of the
candidates' source code, so a decision measured elsewhere, or about other code, is never
reused. A missing, corrupt or oddly shaped file reads as empty: it only costs measuring
again.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path

import numpy as np

from ...support import jit, runtime
from ...support.files import atomic_write

_persistent: dict | None = None  # the file's contents, read once (and again before writing)


def environment_key(code_digest: str) -> str:
    """What a decision depends on, as one string; `code_digest` hashes the candidates."""
    jit.configure()  # the thread count Numba's settings give, whoever loaded numba first
    import numba

    return "|".join([runtime.cpu_model(), f"cpus={os.cpu_count()}",
                     f"threads={numba.get_num_threads()}", platform.python_version(),
                     f"numpy={np.__version__}", f"numba={numba.__version__}",
                     f"code={code_digest}"])


def path() -> Path | None:
    """The cache file CONVBENCH_AUTO_CACHE names, or None when decisions stay in memory."""
    setting = os.environ.get("CONVBENCH_AUTO_CACHE", "")
    if setting in ("", "0"):
        return None
    if setting == "1":
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "convbench" / "auto.json"
    return Path(setting)


def read(file: Path) -> dict:
    """The file's contents; missing, corrupt or not a JSON object: {}."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(environment) -> dict:
    """{configuration: backend} decided in this environment (`environment()` gives its key,
    asked only when there is a file), {} without a cache file."""
    global _persistent
    file = path()
    if file is None:
        return {}
    if _persistent is None:
        _persistent = read(file)
    entry = _persistent.get(environment())
    return entry if isinstance(entry, dict) else {}


def save(environment, key: str, winner: str) -> None:
    """Add one decision to the file (when there is one); an unwritable file is a warning:
    it must not break training, the layer is measured again next time."""
    global _persistent
    file = path()
    if file is None:
        return
    # Read again just before writing: another process may have added decisions meanwhile.
    _persistent = read(file)
    env = environment()
    if not isinstance(_persistent.get(env), dict):
        _persistent[env] = {}
    _persistent[env][key] = winner
    text = json.dumps(_persistent, indent=1, sort_keys=True, allow_nan=False)  # strict JSON
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(file, lambda f: f.write(text.encode()))
    except OSError as e:
        warnings.warn(f"auto: cannot write the decision cache {file}: {e}", RuntimeWarning,
                      stacklevel=6)
