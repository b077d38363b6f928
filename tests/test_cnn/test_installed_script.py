"""The script pip installs for the CNN: named for what it is, the whole `python -m cnn`
command line (issue 17, finding 17: `convbench-train` was `python -m cnn` and needed
`convbench-train train`), with the same process settings and its own name in its messages."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run_script(target, *argv, cwd):
    """The console script's entry point as pip's wrapper calls it, in a fresh process
    without OPENBLAS_THREAD_TIMEOUT; prints that variable's value after the command."""
    module, function = target.split(":")
    code = (f"import os, sys; sys.argv = {['convbench-cnn', *argv]!r}; "
            f"from {module} import {function} as script; status = script(); "
            "print('OPENBLAS_THREAD_TIMEOUT', os.environ.get('OPENBLAS_THREAD_TIMEOUT')); "
            "sys.exit(status)")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_the_cnn_script_is_named_for_the_whole_command_line():
    assert "convbench-train" not in SCRIPTS  # it would need `convbench-train train`
    assert SCRIPTS["convbench-cnn"] == "cnn.__main__:installed_script"


def test_the_script_runs_every_command_in_its_own_name(tmp_path):
    target = SCRIPTS["convbench-cnn"]
    for command in ("train", "evaluate", "predict"):
        done = run_script(target, command, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: convbench-cnn {command} ")
    done = run_script(target, "evaluate", "missing.npz", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("convbench-cnn evaluate: error: checkpoint missing.npz does not "
                           "exist\n")
    # The same process settings as `python -m cnn` (OpenBLAS's threads must not spin).
    assert done.stdout.splitlines() == ["OPENBLAS_THREAD_TIMEOUT 4"]
