"""kernels.bench.measuring.instruments: the timer (on a fake clock, exactly), the GEMM rate and the
workspace meter."""

from __future__ import annotations

import gc
import time
import types

import numpy as np
import pytest

import kernels.bench.measuring.instruments as instruments


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_measure_statistics_on_a_fake_clock(monkeypatch):
    """Durations in exact binary fractions of a second: warm-up (reported as first_call), one
    probe call of 2**-11 s (< 2 ms, so ceil(2e-3 / 2**-11) = 5 calls per sample), then 4
    samples whose calls take 3, 1, 4, 2 units of 2**-10 s. numpy's linear percentiles of
    1, 2, 3, 4 units are 1.75, 2.5 and 3.25."""
    clock = FakeClock()
    monkeypatch.setattr(instruments, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    unit = 2.0**-10
    # warm-up, three probes (the fastest, 2**-11 s, sets 5 calls a sample), 4 samples
    durations = [1.0, 2.0**-10, 2.0**-11, 2.0**-9] + \
        [t * unit for t in (3, 1, 4, 2) for _ in range(5)]
    calls = []

    def fn():
        clock.now += durations[len(calls)]
        calls.append(1)
    stats = instruments.measure(fn, 4)
    assert len(calls) == len(durations) == 24
    assert stats == dict(median=2.5 * unit, p25=1.75 * unit, p75=3.25 * unit, min=1 * unit,
                         repeats=4, calls_per_sample=5, first_call=1.0,
                         samples=[0.00293, 0.0009766, 0.003906, 0.001953])  # 4 digits


def test_measure_slow_calls_are_sampled_one_by_one(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(instruments, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    durations = iter([0.5, 0.25, 0.125, 0.375, 0.25])  # warm-up, probe, 3 samples

    def fn():
        clock.now += next(durations)
    stats = instruments.measure(fn, 3, warmup=1)
    assert stats == dict(median=0.25, p25=0.1875, p75=0.3125, min=0.125, repeats=3,
                         calls_per_sample=1, first_call=0.5, samples=[0.125, 0.375, 0.25])


def test_measure_alternated_sample_by_sample(monkeypatch):
    """Each contender is warmed up and probed first; then the samples alternate a, b, a, b,
    so a slow spell of the machine (here: calls 6 and 7, b's first sample and a's second)
    hits both, and each one's statistics are its own."""
    clock = FakeClock()
    monkeypatch.setattr(instruments, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    order = []

    def contender(name, seconds):
        def fn():
            order.append(name)
            clock.now += seconds * (4 if len(order) in (6, 7) else 1)  # the slow spell
        return fn
    stats = instruments.measure_alternated(
        {"a": contender("a", 0.25), "b": contender("b", 0.5)}, 3, warmup=1, rounds=None)
    assert order == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert stats["a"]["median"] == 0.25 and stats["a"]["repeats"] == 3
    assert stats["b"]["median"] == 0.5 and stats["b"]["first_call"] == 0.5
    assert stats["a"]["p75"] == 0.625 and stats["b"]["p75"] == 1.25  # the spell: 1.0 and 2.0


def test_measure_alternated_in_rounds_opens_each_block_with_an_untimed_call(monkeypatch):
    """rounds=2, 5 samples: blocks of 3 and 2, each opened by settling calls that are not
    timed (here one call of 1 s, over SETTLE_SECONDS, so no second one; no sample shows it).
    """
    clock = FakeClock()
    monkeypatch.setattr(instruments, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    order = []
    settling = {5, 9, 13, 16}  # 1-based: after warm-up + probe of both, each block's opener

    def contender(name, seconds):
        def fn():
            order.append(name)
            clock.now += 1.0 if len(order) in settling else seconds
        return fn
    stats = instruments.measure_alternated(
        {"a": contender("a", 0.25), "b": contender("b", 0.5)}, 5, warmup=1, rounds=2)
    assert order == ["a", "a", "b", "b"] + ["a"] * 4 + ["b"] * 4 + ["a"] * 3 + ["b"] * 3
    assert stats["a"]["median"] == stats["a"]["p75"] == 0.25 and stats["a"]["repeats"] == 5
    assert stats["b"]["median"] == stats["b"]["p75"] == 0.5 and stats["b"]["repeats"] == 5


def test_measure_re_enables_gc_when_fn_fails():
    state = {"n": 0}

    def fn():
        state["n"] += 1
        if state["n"] > 3:
            raise RuntimeError("boom")
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        instruments.measure(fn, 5, warmup=1)
    assert gc.isenabled()


def test_measure_real_clock():
    stats = instruments.measure(lambda: sum(range(200)), 7)
    assert stats["repeats"] == 7 and stats["calls_per_sample"] >= 1
    assert 0 < stats["min"] <= stats["p25"] <= stats["median"] <= stats["p75"]


def test_measure_once_calls_once_and_reports_like_measure():
    calls = []
    stats = instruments.measure_once(lambda: calls.append(time.sleep(0.01)))
    assert len(calls) == 1
    assert set(stats) == set(instruments.measure(lambda: None, 1))
    assert stats["repeats"] == stats["calls_per_sample"] == 1
    assert stats["median"] == stats["min"] == stats["first_call"] >= 0.01


def test_gemm_peak_is_positive():
    result = instruments.gemm_peak(np.float32, 3, n=96)
    assert result["n"] == 96
    assert result["gflops"] > 0 and result["best_gflops"] > 0
    assert result["best_gflops"] >= result["gflops"]  # best sample vs median sample


def test_workspace_bytes_counts_temporaries_not_results():
    """A 1 MiB temporary freed before returning a 8000-byte result: the workspace is the
    temporary (the peak), less nothing - the result is subtracted only once."""
    def run():
        tmp = np.ones(2**17)  # 1 MiB of float64
        out = tmp[:1000].copy()
        del tmp
        return (out, None)
    used = instruments.workspace_bytes(run)
    assert 2**20 <= used <= 2**20 + 64 * 1024




CPUINFO = "".join(f"processor\t: {i}\ncpu MHz\t\t: 2596.134\nphysical id\t: {p}\n"
                  f"core id\t\t: {c}\n\n" for i, (p, c) in enumerate(
                      [(0, 0), (0, 1), (0, 0), (0, 1), (1, 0), (1, 1), (1, 0), (1, 1)]))


def test_physical_cores_count_smt_siblings_once():
    """Two packages of two cores with two hardware threads each: 4 cores, not 8."""
    assert instruments.runtime.physical_cores(CPUINFO) == 4
    assert instruments.runtime.physical_cores("processor : 0\n") is None


MEASURED = dict(peak={"float32": dict(gflops=300.0), "float64": dict(gflops=150.0)},
                bandwidth_gbs=40.0, measured="2026-12-06T00:00:00+00:00", probe_seconds=3.0)


@pytest.mark.parametrize("threads, cores", [(1, 1), (4, 4), (8, 4)])
def test_the_recorded_peak_is_measured_and_the_formula_only_a_cross_check(
        monkeypatch, threads, cores):
    """peak_gflops is the probe's, for the report's dtype; the formula (cores the threads
    use x 16 lanes x 2 x the listed clock) is recorded under its own name beside it."""
    monkeypatch.setattr(instruments.runtime, "cpuinfo", lambda: CPUINFO)
    monkeypatch.setattr(instruments.peak, "measured", lambda threads, refresh: MEASURED)
    found = instruments.machine_peak("float64", threads)
    assert found["peak_gflops"] == 150.0 and found["machine"]["peak"] == MEASURED["peak"]
    assert found["machine"]["threads"] == threads and found["machine"]["id"]
    assert found["listed_clock_mhz"] == 2596.134
    assert found["formula_peak_gflops"] == pytest.approx(cores * 8 * 2 * 2.596134)


def test_no_listed_clock_no_formula(monkeypatch):
    monkeypatch.setattr(instruments.runtime, "cpuinfo", lambda: "")
    monkeypatch.setattr(instruments.peak, "measured", lambda threads, refresh: MEASURED)
    found = instruments.machine_peak("float32", 2)
    assert found["peak_gflops"] == 300.0
    assert found["listed_clock_mhz"] is None and found["formula_peak_gflops"] is None
