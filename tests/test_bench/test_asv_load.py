"""The asv suites say when the machine was busy, beside the timings
(benchmarks/bench_machine.py's MachineLoad track), and the default grid stays the small,
history-paced one with the full grid opt-in (CONVBENCH_FULL=1; issue 23)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kernels.bench.measuring import load

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the suites are a package at the root, not installed
    sys.path.insert(0, str(ROOT))
from benchmarks import bench_machine  # noqa: E402


@pytest.fixture
def track(monkeypatch):
    if load.machine_cpu_seconds() is None:
        pytest.skip("no /proc/stat")
    # 1.5 s: over MIN_OTHERS_SECONDS, and 150 ticks a CPU against /proc/stat's 10 ms ticks
    monkeypatch.setattr(bench_machine, "LOAD_WINDOW_SECONDS", 1.5)
    suite = bench_machine.MachineLoad()
    suite.setup()
    return suite


def test_a_core_loaded_by_the_test_is_tracked_and_flagged(track, capsys):
    """A busy loop this test starts on another core: the track reads at least the
    threshold and the run's stderr says BUSY. Other work on a shared machine can only add."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start
        cores = track.track_other_processes_cores()
    finally:
        spinner.kill()
        spinner.wait()
    assert isinstance(cores, float) and cores > load.OTHERS_BUSY_CORES
    assert "BUSY machine" in capsys.readouterr().err


def test_a_quiet_machine_tracks_zero_and_says_nothing(track, monkeypatch, capsys):
    """Quiet made certain: /proc/stat's busy time standing still (a real quiet moment cannot
    be promised on a shared machine)."""
    monkeypatch.setattr(load, "machine_cpu_seconds", lambda: 1000.0)
    assert track.track_other_processes_cores() == 0.0
    assert capsys.readouterr().err == ""


def test_the_track_is_lower_is_better_and_skipped_without_a_measure(monkeypatch):
    assert bench_machine.MachineLoad.track_other_processes_cores.unit == "cores"
    monkeypatch.setattr(load, "machine_cpu_seconds", lambda: None)
    with pytest.raises(NotImplementedError, match="other processes"):
        bench_machine.MachineLoad().setup()


GRID = textwrap.dedent("""
    import json
    from benchmarks import bench_compile, bench_conv, bench_model, bench_pool, common

    def combinations(suite):
        n = 1
        for axis in suite.params:
            n *= len(axis)
        return n

    suites = [bench_conv.ConvForward, bench_conv.ConvBackward, bench_conv.ConvBackwardData,
              bench_conv.ConvBackwardWeights, bench_conv.ConvMetrics, bench_pool.PoolForward,
              bench_pool.PoolBackward, bench_model.TrainStep, bench_model.Evaluate10k,
              bench_compile.NumbaCompileCold, bench_compile.NumbaCacheLoad]
    print(json.dumps(dict(
        combinations={s.__name__: combinations(s) for s in suites},
        rounds={s.__name__: getattr(s, "rounds", 2) for s in suites},
        backends=common.BACKENDS, conv=common.CONV_NAMES, main=common.MAIN)))
""")


def _grid(full):
    env = {**os.environ, "CONVBENCH_FULL": "1" if full else "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("CONVBENCH_CASES_FILE", None)
    done = subprocess.run([sys.executable, "-c", GRID], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_default_grid_is_the_history_grid_and_the_full_grid_opt_in():
    """The default grid times every fast backend's forward and backward of the convnet
    layers, the details with MAIN only, each in one round; CONVBENCH_FULL=1 restores every
    case and backend on every suite, with asv's two rounds."""
    default, full = _grid(False), _grid(True)
    assert default["main"] == ["numba"]
    assert set(default["conv"]) == {"convnet.conv1", "convnet.conv2"}
    assert set(default["rounds"].values()) == {1}
    assert set(full["rounds"].values()) == {2}
    n_conv = len(default["backends"]) * len(default["conv"])
    assert default["combinations"]["ConvForward"] == n_conv
    assert default["combinations"]["ConvBackwardData"] == len(default["conv"])
    assert default["combinations"]["NumbaCompileCold"] == 1
    assert default["combinations"]["Evaluate10k"] == 1
    for suite, n in default["combinations"].items():
        assert n < full["combinations"][suite], suite
    assert "naive" in full["backends"] and "naive" not in default["backends"]
