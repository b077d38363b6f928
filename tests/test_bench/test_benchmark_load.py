"""pytest-benchmark's timings carry the machine's load (tests/benchmark_load.py): each
benchmark's in its extra_info, the session's in machine_info, and a BUSY line after the
table, proved with a busy loop this test starts on another core (issue 23)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import benchmark_load
from kernels.bench.measuring import load

TESTS = Path(__file__).resolve().parents[1]


def _section(others, busy, load_max=1.0):
    return dict(wall_seconds=2.0, cpu_seconds=2.0, cpu_per_wall=1.0, load_start=0.5,
                load_end=load_max, load_max=load_max, others_cpu_seconds=2 * others,
                others_per_wall=others, busy=busy)


def test_the_json_hook_records_each_benchmark_s_load_and_the_session_s():
    sections = {"tests/a.py::test_x[im2col]": _section(0.9, True, 3.2),
                "tests/a.py::test_x[fft]": _section(0.05, False)}
    output = dict(machine_info=dict(node="box"), benchmarks=[
        dict(fullname="tests/a.py::test_x[im2col]", extra_info=dict(gflops=12.0)),
        dict(fullname="tests/a.py::test_x[fft]"),
        dict(fullname="tests/a.py::test_untimed")])  # no section: left as it was
    benchmark_load.update_json(output, sections)
    first, second, third = output["benchmarks"]
    assert first["extra_info"] == dict(gflops=12.0, load=dict(
        wall_seconds=2.0, others_per_wall=0.9, load_max=3.2, busy=True))
    assert second["extra_info"]["load"]["busy"] is False and "extra_info" not in third
    assert output["machine_info"] == dict(node="box", load=dict(
        benchmarks=2, busy=1, others_per_wall_max=0.9, load_max=3.2))


def test_a_quiet_session_prints_no_warning():
    assert benchmark_load.busy_warning({"t": _section(0.05, False)}) is None
    assert benchmark_load.busy_warning({}) is None


BENCHMARK = """
import time

def test_sleep(benchmark):
    benchmark.pedantic(time.sleep, args=(0.4,), rounds=3, iterations=1)
"""


def test_a_core_taken_by_another_process_marks_the_benchmarks(tmp_path):
    """A 1.2 s benchmark (three sleeps: our process idles, so all of the busy loop's core is
    someone else's) timed beside a busy loop: its JSON and the summary say BUSY."""
    if load.machine_cpu_seconds() is None:
        pytest.skip("no /proc/stat")
    (tmp_path / "test_sleep.py").write_text(BENCHMARK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(TESTS.parent)]))
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "benchmark_load", "-p",
             "no:cacheprovider", "--benchmark-json", "out.json", "test_sleep.py"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        spinner.kill()
        spinner.wait()
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    (bench,) = report["benchmarks"]
    assert bench["extra_info"]["load"]["busy"] is True, bench["extra_info"]
    assert bench["extra_info"]["load"]["others_per_wall"] > load.OTHERS_BUSY_CORES
    assert report["machine_info"]["load"]["busy"] == 1
    assert "BUSY: 1 of 1 benchmarks ran while the machine was busy" in run.stdout
