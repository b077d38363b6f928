"""A busy machine is noticed: per section, the load average and CPU time are recorded and a
section measured while the load exceeded the CPUs is flagged, and so are the verdicts that
rest on it (issue 17, finding 12)."""

from __future__ import annotations

import os

import pytest

from kernels.bench.measuring import load
from kernels.bench.judging import targets


def test_a_section_under_load_is_busy(monkeypatch):
    clock = load.SectionClock()
    monkeypatch.setattr(load, "load_average", lambda: 0.1)
    with clock.section("conv"):
        pass
    assert clock.busy("conv") is False and clock.busy("train") is None
    monkeypatch.setattr(load, "load_average", lambda: os.cpu_count() + 1.0)
    with clock.section("train"):
        sum(range(10_000))
    entry = clock.sections["train"]
    assert entry["busy"] is True and entry["load_max"] == os.cpu_count() + 1.0
    assert entry["cpu_seconds"] >= 0 and entry["wall_seconds"] > 0


def _report(busy):
    results = {b: dict(forward=dict(median=1.0), backward_data=dict(median=1.0),
                       backward_weights=dict(median=1.0)) for b in ("im2col", "torch")}
    return dict(settings=dict(dtype="float32", batch=None), environment=dict(dtype="float32"),
                sections={"conv": {"busy": busy}},
                cases=[dict(name="convnet.conv2", kind="conv", set="mnist", results=results)])


def test_a_verdict_measured_while_busy_says_so():
    target = targets.Target("t", targets.r.best_vs_torch("convnet.conv2"), 2.0)
    assert target.check(_report(True))["busy"] is True
    assert target.check(_report(False))["busy"] is False


def test_the_cpu_time_counts_the_child_processes():
    import subprocess
    import sys

    clock = load.SectionClock()
    child = "import time; sum(i * i for i in range(3_000_000)); print(time.process_time())"
    with clock.section("memory"):  # the memory section trains in fresh processes
        spent = float(subprocess.run([sys.executable, "-c", child], check=True,
                                     capture_output=True, text=True).stdout)
    # the child's CPU seconds as it measured them itself (tick-rounded by os.times)
    assert clock.sections["memory"]["cpu_seconds"] >= spent - 0.02


def test_a_core_taken_by_another_process_is_noticed_at_once(monkeypatch):
    """The load average lags a minute behind; the other processes' CPU time does not: a
    busy loop started by this test on another core makes a 1.5 s section busy, whatever
    the load average says."""
    import subprocess
    import sys
    import time

    if load.machine_cpu_seconds() is None:
        pytest.skip("no /proc/stat")
    monkeypatch.setattr(load, "load_average", lambda: 0.0)  # as if the average had not moved
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start
        clock = load.SectionClock()
        with clock.section("conv"):
            time.sleep(1.5)
    finally:
        spinner.kill()
        spinner.wait()
    entry = clock.sections["conv"]
    assert entry["others_per_wall"] >= 0.7, entry  # one core, less ticks and start-up
    assert entry["busy"] is True


def test_the_markdown_keeps_the_load_table():
    """The console printed the load per section and the Markdown dropped it (issue 23): a
    figure measured on a busy machine says so in every format."""
    from kernels.bench.output import markdown
    sections = {"conv": dict(wall_seconds=10.0, cpu_seconds=19.0, cpu_per_wall=1.9,
                             load_start=0.5, load_end=3.1, load_max=3.1, others_per_wall=0.6,
                             busy=True)}
    report = dict(environment=dict(command="python -m kernels bench", date="2026-12-06",
                                   cpu="cpu", cores=2, threads=2, numpy="2", numba="0.6",
                                   torch=None, dtype="float32", blas=[]),
                  gemm=dict(float32=dict(gflops=100.0), float64=dict(gflops=50.0)),
                  memory=dict(triad_gbs=30.0), cases=[], train_steps=[], evaluate=[],
                  sections=sections)
    text = markdown.markdown(report)
    assert "| conv | 10.0 | 19.0 | 1.90 | 0.5/3.1 | 0.60 | BUSY |" in text
