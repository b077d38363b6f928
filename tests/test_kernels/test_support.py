"""kernels.support: atomic output files, and the process settings (threads, malloc) that
timing and training programs pin. The runtime checks run in subprocesses: both settings last
for the rest of a process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.support.files import atomic_write, writable_problem

ROOT = Path(__file__).resolve().parents[2]
GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_atomic_write_replaces_the_content(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.json"]


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    """mkstemp creates 0600 files; the result must get what open() would give (0666 minus
    the umask) for a new file, and keep an existing file's mode when it replaces one."""
    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.bin"
        atomic_write(new, lambda f: f.write(b"x"))
        assert new.stat().st_mode & 0o777 == 0o644
        old = tmp_path / "old.bin"
        old.write_bytes(b"old")
        old.chmod(0o640)
        atomic_write(old, lambda f: f.write(b"new"))
        assert old.stat().st_mode & 0o777 == 0o640 and old.read_bytes() == b"new"
    finally:
        os.umask(umask)


def test_writable_problem_names_the_reason(tmp_path):
    assert writable_problem(tmp_path / "ok.json") is None
    assert "is a directory" in writable_problem(tmp_path)
    assert "does not exist" in writable_problem(tmp_path / "missing" / "x.json")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_write_failure_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "out.json"
    target.write_text("old content")

    def write(f):
        f.write(b"half of the new")
        raise error("in the middle")
    with pytest.raises(error):
        atomic_write(target, write)
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["out.json"], "no temporary file left"


def test_atomic_write_failure_creates_nothing(tmp_path):
    def write(f):
        raise OSError("disk full")
    with pytest.raises(OSError):
        atomic_write(tmp_path / "new.png", write)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ kernels.runtime

def _python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


RUNTIME_PROBE = """
import json, os, sys
{pre}
from kernels.support import runtime
reuse = runtime.reuse_freed_memory()
info = runtime.pin_threads(1)
env = os.environ.get("NUMBA_NUM_THREADS")
from threadpoolctl import threadpool_info
import numba
print(json.dumps(dict(reuse=reuse, info=info, env=env, numba=numba.get_num_threads(),
                      blas=[d["num_threads"] for d in threadpool_info()
                            if d["user_api"] == "blas"])))
"""


def _probe_runtime(pre):
    result = _python(RUNTIME_PROBE.format(pre=pre))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("pre", ["import numpy", "import numpy, numba"],
                         ids=["numba-imported-later", "numba-already-imported"])
def test_pin_threads_and_malloc_in_a_subprocess(pre):
    """pin_threads(1) pins BLAS (threadpoolctl then sees 1 thread) and Numba, whether Numba
    is imported later (through NUMBA_NUM_THREADS) or already (through set_num_threads), and
    reports both; reuse_freed_memory() is a bool, True with glibc. In a subprocess: both
    last for the rest of the process."""
    out = _probe_runtime(pre)
    assert isinstance(out["reuse"], bool)
    if GLIBC_LINUX:
        assert out["reuse"] is True
    info = out["info"]
    assert info["threads"] == 1 and info["numba_threads"] == 1
    assert isinstance(info["blas"], list) and info["blas"], info["blas"]
    assert all(b["num_threads"] == 1 and b["internal_api"] for b in info["blas"])
    assert out["blas"] and set(out["blas"]) == {1}
    assert out["numba"] == 1
    assert out["env"] == (None if "numba" in pre else "1")


def test_pin_threads_first_thing_in_a_program_pins_blas():
    out = _probe_runtime("")
    assert out["info"]["blas"] and set(out["blas"]) == {1}


