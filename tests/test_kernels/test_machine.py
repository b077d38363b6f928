"""The machine a result describes (kernels.support.machine) and its measured peak
(kernels.support.peak): the vector width decided from the target's features, the probe's
code, its agreement with lanes x FMA units x 2 x its own clock, and that nothing measured in
the same run beats it."""

from __future__ import annotations

import json
import platform
import re

import numpy as np
import pytest

from kernels.support import machine, peak, probes, runtime

x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                         reason="the LLVM CPUs named are x86 ones")
THREADS = min(2, runtime.usable_cores())


@x86
@pytest.mark.parametrize("cpu,bits", [("znver4", 512), ("sapphirerapids", 512),
                                      ("icelake-server", 512), ("skylake-avx512", 512),
                                      ("haswell", 256), ("znver2", 256), ("nehalem", 128)])
def test_widest_vector_register_comes_from_the_targets_features(cpu, bits):
    assert machine.widest_vector_bits(cpu, "") == bits
    assert machine.widest_vector_bits(cpu, "-avx512f") == min(bits, 256)


@pytest.fixture
def fresh_target(monkeypatch):
    """full_vector_width() as if Numba had made no code generator yet, in a scratch env."""
    from numba.core import config
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.setattr(machine, "_numba_codegen", lambda: None)
    monkeypatch.setattr(config, "reload_config", lambda: None)  # this process's stays put

    def target(name, features):
        monkeypatch.setattr(machine, "compile_target", lambda: (name, features))
    return target


@x86
def test_the_256_bit_preference_is_switched_off_only_for_512_bit_targets(fresh_target):
    import os
    fresh_target("sapphirerapids", "+avx512f,+fma")
    assert machine.full_vector_width() is True
    assert os.environ["NUMBA_CPU_FEATURES"] == "+avx512f,+fma,-prefer-256-bit"
    del os.environ["NUMBA_CPU_FEATURES"]
    fresh_target("sapphirerapids", "")  # the CPU's own features
    assert machine.full_vector_width() is True
    assert os.environ["NUMBA_CPU_FEATURES"] == "-prefer-256-bit"
    del os.environ["NUMBA_CPU_FEATURES"]
    fresh_target("haswell", "")  # nothing wider to prefer: the features stay the user's
    assert machine.full_vector_width() is False
    assert "NUMBA_CPU_FEATURES" not in os.environ


@x86
def test_a_stated_preference_is_left_alone(fresh_target):
    import os
    fresh_target("sapphirerapids", "+prefer-256-bit")
    assert machine.full_vector_width() is False
    assert "NUMBA_CPU_FEATURES" not in os.environ


def test_fingerprint_names_the_machine():
    info = machine.identity(THREADS)
    for key in ("vendor", "model", "llvm_cpu", "compiled_for", "isa", "vector_bits", "cores",
                "threads", "blas", "id"):
        assert key in info, key
    assert info["vector_bits"] in (128, 256, 512) and info["threads"] == THREADS
    assert set(info["isa"]) <= set(machine.ISA_FEATURES.values())
    assert re.fullmatch(r"[0-9a-f]{12}", info["id"])
    assert machine.identity(THREADS)["id"] == info["id"]  # stable
    assert machine.identity(THREADS + 1)["id"] != info["id"]  # threads are part of it
    line = machine.one_line(info)
    assert info["model"] in line and f"{info['vector_bits']}-bit" in line and info["id"] in line


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_probe_runs_independent_vector_fmas_on_the_widest_registers(dtype):
    bits = machine.vector_bits()
    lanes = bits // (8 * np.dtype(dtype).itemsize)
    kernel, fused = probes.fma_kernel(dtype, lanes)
    loop = kernel.assembly.split("fma_loop:", 1)[1]
    if platform.machine().lower() in ("x86_64", "amd64") and bits >= 256:
        register = {512: "zmm", 256: "ymm"}[bits]
        found = re.findall(rf"vfmadd\w+\s[^\n]*%{register}", loop)
        assert fused and len(found) >= probes.ACCUMULATORS, loop[:3000]
    # it computes: every accumulator converges to c / (1 - m) = 1 in every lane
    assert kernel.call(200_000, 0.9999, 1e-4) == pytest.approx(
        probes.ACCUMULATORS * lanes, rel=1e-3)


def test_the_probe_agrees_with_lanes_fma_units_and_its_own_clock():
    """Peak per thread / (lanes x 2 x clock) is a whole number of FMA units up to noise.
    The best of three tries: a busy moment of the shared machine slows one round's adds and
    FMAs differently."""
    if probes.clock_kernel() is None:
        pytest.skip("the clock probe is x86 assembly")
    tries = [peak.probe("float32", 1) for _ in range(3)]
    best = min(tries, key=lambda r: abs(r["fma_units_measured"] - r["fma_units"]))
    assert 1 <= best["fma_units"] <= 4
    assert abs(best["fma_units_measured"] - best["fma_units"]) <= 0.2, tries
    assert 500 <= best["clock_mhz"] <= 7000, tries
    expected = best["lanes"] * best["fma_units"] * 2 * best["clock_mhz"] / 1e3
    assert best["gflops"] == pytest.approx(expected, rel=0.2)


def test_nothing_in_the_same_run_beats_the_measured_peak(tmp_path, monkeypatch):
    """SGEMM, blocked's best layer and (when installed) PyTorch's convolution, each timed
    between two fresh peak measurements, stay under the higher one within 10 % (noise:
    the probe's rounds last 50 ms and may each catch a busy moment)."""
    from kernels.bench.measuring import instruments
    import kernels
    from kernels.cases import CONV_CASES

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    runtime.pin_threads(THREADS)
    measured = [peak.measured(THREADS, refresh=True)["peak"]["float32"]["gflops"]]
    rates = {"sgemm": instruments.gemm_peak(np.float32, 5)["best_gflops"]}
    case = CONV_CASES["std.3x3x64"]
    x, w, b, _ = case.arrays(np.float32)
    flops = case.flops_forward
    blocked = kernels.get_backend("blocked")
    stats = instruments.measure(lambda: blocked.conv2d_forward(x, w, b, **case.params()), 5)
    rates["blocked"] = flops / stats["min"] / 1e9
    try:
        import torch
    except ImportError:
        pass
    else:
        xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
        with torch.no_grad():
            stats = instruments.measure(
                lambda: torch.nn.functional.conv2d(xt, wt, bt, padding=case.padding), 5)
        rates["torch"] = flops / stats["min"] / 1e9
    measured.append(peak.measured(THREADS, refresh=True)["peak"]["float32"]["gflops"])
    ceiling = max(measured)
    assert all(rate <= 1.1 * ceiling for rate in rates.values()), (rates, measured)
    cached = json.loads(peak.cache_file(machine.identity(THREADS)["id"]).read_text())
    assert cached["peak"]["float32"]["gflops"] == pytest.approx(ceiling)


def test_the_cache_keeps_the_best_measurement(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    calls = []

    def fake(threads):
        calls.append(threads)
        gflops = [100.0, 80.0, 120.0][len(calls) - 1]
        return dict(peak={"float32": dict(gflops=gflops), "float64": dict(gflops=gflops / 2)},
                    bandwidth_gbs=20.0 + len(calls), measured="now", probe_seconds=1.0)

    monkeypatch.setattr(peak, "measure", fake)
    first = peak.measured(2)
    assert first["cached"] is False and first["peak"]["float32"]["gflops"] == 100.0
    again = peak.measured(2)
    assert again["cached"] is True and again["peak"]["float32"]["gflops"] == 100.0
    assert len(calls) == 1
    lower = peak.measured(2, refresh=True)  # a busier second look does not lower the peak
    assert lower["peak"]["float32"]["gflops"] == 100.0 and lower["bandwidth_gbs"] == 22.0
    higher = peak.measured(2, refresh=True)
    assert higher["peak"]["float32"]["gflops"] == 120.0
    assert peak.measured(2)["peak"]["float32"]["gflops"] == 120.0
    assert list(tmp_path.rglob("*.part")) == []


def test_a_gemm_above_the_measured_peak_is_flagged():
    from kernels.bench.output import render
    report = dict(environment=dict(dtype="float32", peak_gflops=100.0),
                  gemm=dict(float32=dict(gflops=110.0)))
    assert render.peak_warning(report) is None  # within noise
    report["gemm"]["float32"]["gflops"] = 111.0
    assert "1.11x the measured peak of 100" in render.peak_warning(report)
    del report["environment"]["peak_gflops"]  # a report made before the probe
    assert render.peak_warning(report) is None


@pytest.mark.parametrize("features, stated", [
    ("", None), ("+avx2,+fma", None), ("+prefer-256-bit", "+"), ("-prefer-256-bit", "-"),
    ("+avx512f,+prefer-256-bit,-prefer-256-bit", "-"), (" -prefer-256-bit , +prefer-256-bit", "+"),
    ("+prefer-256-bit-x", None)])
def test_the_last_stated_preference_counts(features, stated):
    """LLVM applies the features in order, so the last mention of the preference wins."""
    assert machine._stated_preference(features) == stated


@x86
def test_a_foreign_target_is_described_but_never_run():
    """`python -m kernels machine` for another CPU (NUMBA_CPU_NAME) gives that CPU's vector
    width and no peak: its code may use instructions this CPU lacks (SIGILL)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CPU_NAME="sapphirerapids", NUMBA_CPU_FEATURES="")
    done = subprocess.run([sys.executable, "-m", "kernels", "machine"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "512-bit vectors" in done.stdout and "compiled for sapphirerapids" in done.stdout
    assert "peak not measured: Numba compiles for sapphirerapids" in done.stdout
