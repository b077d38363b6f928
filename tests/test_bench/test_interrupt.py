"""One Ctrl-C stops `python -m kernels bench` at any moment, in one line with exit code 130,
and keeps the cases measured so far, marked partial (issue 23)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _bench(tmp_path, *args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "kernels", "bench", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_ctrl_c_after_a_case_keeps_what_was_measured(tmp_path):
    run = _bench(tmp_path, "--quick", "--cases", "convnet", "--sections", "conv",
                 "--backends", "im2col", "--no-torch", "--repeats", "3", "--json", "out.json")
    seen = []
    for line in run.stdout:  # the first case's table is printed once it is measured
        seen.append(line)
        if line.startswith("convnet.conv1"):
            break
    else:
        pytest.fail("the first case never printed:\n" + "".join(seen) + run.stderr.read())
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "marked partial" in err
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["partial"]["reason"] == "interrupted (Ctrl-C)"
    assert report["partial"]["cases"] == len(report["cases"]) >= 1
    assert report["cases"][0]["name"] == "convnet.conv1" and report["targets"] == []


@pytest.mark.parametrize("delay", [0.1, 0.2, 0.25, 0.3, 0.4, 1.5])
def test_ctrl_c_while_loading_stops_at_once(tmp_path, delay):
    """Early: while Python, NumPy, Numba and the frameworks load (JAX's loading swallowed a
    KeyboardInterrupt in a garbage-collector callback and the bench carried on). Several
    moments, because one of them (0.25 s) once ended with CPython's own SIGINT (-2): see
    kernels.support.runtime.exit_interrupted."""
    run = _bench(tmp_path, "--quick", "--json", "out.json")
    time.sleep(delay)
    run.send_signal(signal.SIGINT)
    try:
        out, err = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail("one Ctrl-C did not stop the bench within two minutes")
    assert run.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("python -m kernels bench: interrupted")
    assert not list(tmp_path.glob("*.part"))
