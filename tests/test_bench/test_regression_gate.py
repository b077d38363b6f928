"""The regression gate on real timings (issue 22, item 1): an injected 15 % slowdown of a real
backend, measured by the real bench, fails `--compare` with exit 1; the same code measured
twice passes with exit 0, also on a machine this test keeps busy.

Built not to flake on a shared machine:
- the slowdown is deterministic: the wrapper spins, after each call of im2col, for 0.15x
  that call's own measured time, so every slowed call takes at least 1.15x its own work,
  however loaded the machine is;
- old and new are measured in one bench run, as two contenders taking turns
  (instruments.measure_alternated): a burst of load falls on both alike. The run's report
  is then split into the OLD and NEW reports `--compare` reads, each holding one contender's
  results under the name im2col;
- 31 samples a side, one thread, each sample 30 ms long, old and new taking turns sample
  by sample (see SAMPLE_SECONDS).
What is left to chance: under the same code the U test's p-values are uniform, so a
significant row (p < 0.01 after Holm over 3) is a 1 % event, and it must also be 10 % slower
in the median: well under 1 %.
No wall-clock threshold: only the gate's verdicts and exit codes are asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

import kernels
from kernels.bench import cli
from test_bench.test_report import run_report

CASE = "name=gate,N=8,C=16,H=24,F=16,k=3,padding=1"  # ~1 ms a pass on one thread
REPEATS = 31
# A loaded machine (load 6 on 2 cores, as the agents sharing this one make it) gives a
# 2 ms sample either a whole time slice or none: samples of one call were 0.7 or 3.5 ms,
# a two-humped distribution whose median jumps between the humps. A sample of 30 ms spans
# many slices and averages them. Old and new share one runtime (im2col's NumPy and
# OpenBLAS), so they can take turns sample by sample (ROUNDS None: no settling needed
# between them), about 0.1 s apart: a change of load falls on both.
SAMPLE_SECONDS = 0.03
ROUNDS = None


class Spinning:
    """A real backend (im2col) whose every call is followed by spinning for `extra` x the
    call's own measured time: a slowdown of exactly 1 + extra per call, whatever the load
    (0: the same code, wrapper included)."""

    def __init__(self, extra):
        self.extra = extra

    @property
    def _inner(self):
        return kernels.get_backend("im2col")

    def _timed(self, call, *args, **kwargs):
        start = time.perf_counter()
        out = call(*args, **kwargs)
        if self.extra:
            end = time.perf_counter()
            stop = end + self.extra * (end - start)
            while time.perf_counter() < stop:
                pass
        return out

    def unsupported(self, geometry):
        return self._inner.unsupported(geometry)

    def conv2d_forward(self, x, w, b=None, **params):
        return self._timed(self._inner.conv2d_forward, x, w, b, **params)

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        return self._timed(self._inner.conv2d_backward, dy, cache, compute_dx=compute_dx,
                           compute_dw=compute_dw)

    def __getattr__(self, name):  # pooling: im2col's (the contract asks for it)
        if name.endswith(("_pool2d_forward", "_pool2d_backward")):
            return getattr(self._inner, name)
        raise AttributeError(name)


@pytest.fixture
def contenders():
    """Registers two backends of ours, gate_old and gate_new, for the test to set."""
    from kernels import plugins

    made = {}

    def register(old_extra, new_extra):
        for name, extra in (("gate_old", old_extra), ("gate_new", new_extra)):
            kernels.register(name, Spinning(extra), role=kernels.ALGORITHM)
            made[name] = True
    yield register
    for name in made:
        plugins.unregister(name)


@pytest.fixture(autouse=True)
def gate_settings(monkeypatch):
    """Samples of SAMPLE_SECONDS taken in ROUNDS turns, and the machine's GEMM rate and bandwidth
    (which every report measures first, tens of seconds at 31 repeats) as constants: the
    gate does not read them."""
    import functools

    import kernels.bench.report as report

    monkeypatch.setattr(report.instruments, "MIN_SAMPLE_SECONDS", SAMPLE_SECONDS)
    monkeypatch.setattr(report.instruments, "measure_alternated", functools.partial(
        report.instruments.measure_alternated, rounds=ROUNDS))

    monkeypatch.setattr(report.instruments, "gemm_peak",
                        lambda dtype, repeats, n=1536: dict(n=n, gflops=100.0,
                                                            best_gflops=100.0))
    monkeypatch.setattr(report.instruments, "memory_bandwidth",
                        lambda repeats, megabytes=256: dict(megabytes=megabytes,
                                                            triad_gbs=10.0, copy_gbs=5.0))


def measured_apart(tmp_path):
    """One bench run of gate_old and gate_new taking turns, split into the OLD and NEW
    reports (each contender's results as im2col's): their paths."""
    both = tmp_path / "both.json"
    code, _ = run_report(["--case", CASE, "--backends", "gate_old,gate_new", "--sections",
                          "conv", "--repeats", str(REPEATS), "--threads", "1", "--no-torch",
                          "--json", str(both)])
    assert code == 0
    report = json.loads(both.read_text())
    paths = []
    for side in ("old", "new"):
        split = json.loads(both.read_text())
        for case in split["cases"]:
            case["results"] = {"im2col": report["cases"][0]["results"][f"gate_{side}"]}
        path = tmp_path / f"{side}.json"
        path.write_text(json.dumps(split))
        paths.append(path)
    for case in report["cases"]:  # the samples the gate tests are there
        for result in case["results"].values():
            for name in ("forward", "backward_data", "backward_weights"):
                assert len(result[name]["samples"]) == REPEATS
    return paths


def test_an_injected_15_percent_slowdown_fails_the_gate(contenders, tmp_path, capsys):
    contenders(0.0, 0.15)
    old, new = measured_apart(tmp_path)
    capsys.readouterr()
    assert cli.main(["--compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert "regression:" in out and "(exit 1)" in out
    slowed = [line for line in out.splitlines() if line.rstrip().endswith(("slower",
                                                                          "slower (busy)"))]
    assert slowed and all("(Holm)" in line for line in slowed)
    # the other way round, the same runs are a speed-up: no regression
    assert cli.main(["--compare", str(new), str(old)]) == 0


@pytest.fixture
def busy_core():
    """A busy-loop process on one core while the test runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield spinner
    finally:
        spinner.kill()
        spinner.wait()


def test_the_same_code_twice_passes_the_gate(contenders, tmp_path, capsys):
    contenders(0.0, 0.0)
    old, new = measured_apart(tmp_path)
    capsys.readouterr()
    assert cli.main(["--compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "no significant slowdown of ours beyond 1.10x (exit 0)" in out


def test_the_same_code_twice_passes_the_gate_on_a_busy_machine(contenders, busy_core,
                                                              tmp_path, capsys):
    contenders(0.0, 0.0)
    old, new = measured_apart(tmp_path)
    assert busy_core.poll() is None  # it was spinning all along
    capsys.readouterr()
    assert cli.main(["--compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "no significant slowdown of ours beyond 1.10x (exit 0)" in out
