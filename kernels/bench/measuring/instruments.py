"""The measuring instruments: a timer, the machine's GEMM rate and memory bandwidth (the
two roofs of the roofline) and a workspace meter.

Timer: each measurement is warmed up first (Numba compiles, caches fill), then repeated; one
sample is the mean of enough back-to-back calls to last >= 2 ms, so timer resolution does not
matter; the result is the median and the 25-75 % spread of the samples. Workspace is the peak
of NumPy allocations seen by tracemalloc during a call, minus the arrays it returns.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np

from ...support import peak, runtime

MIN_SAMPLE_SECONDS = 2e-3
SETTLE_SECONDS = 0.1


def measure(fn, repeats, *, warmup=1):
    """Median and spread (seconds per call) of `repeats` samples of fn(), and how long the
    first warm-up call took (for Numba: compilation or loading its on-disk cache)."""
    return measure_alternated({"fn": fn}, repeats, warmup=warmup)["fn"]


def _calibration_call(fn, calls=3):
    """The fastest of up to `calls` timed calls, stopping once they add up to
    SETTLE_SECONDS: what sets the calls per sample. One call alone, preempted on a loaded
    machine, made one contender's samples a few calls long (two-humped: a time slice or
    none) while its rival's averaged a hundred, and the gate (kernels.bench.judging.compare) tested
    two differently made distributions."""
    best, spent = float("inf"), 0.0
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        best, spent = min(best, once), spent + once
        if spent >= SETTLE_SECONDS:
            break
    return best


def measure_alternated(contenders, repeats, *, warmup=1, rounds=3):
    """measure() of several contenders ({name: fn}) that take turns, so that a burst of load
    from the shared machine lands on all of them rather than on every sample of one: the
    samples are taken in `rounds` blocks of about repeats / rounds samples per contender,
    every block opened by SETTLE_SECONDS of untimed calls (at least one). Contenders have
    thread pools of their own (PyTorch's OpenMP, Numba's, OpenBLAS's), and the first calls
    after another runtime ran are slower: measured, PyTorch's convnet training step is
    20 ms alone, 40-50 ms when it alternates call by call with ours, 19-20 ms in blocks
    opened by 0.1 s of settling (one settling call was not enough: 27-30 ms).
    rounds=None: sample by sample, without settling (for contenders that share a runtime)."""
    first, calls = {}, {}
    for name, fn in contenders.items():
        for _ in range(warmup):
            start = time.perf_counter()
            fn()
            first.setdefault(name, time.perf_counter() - start)
        once = _calibration_call(fn)
        calls[name] = 1 if once >= MIN_SAMPLE_SECONDS else \
            int(np.ceil(MIN_SAMPLE_SECONDS / max(once, 1e-7)))
    settle = rounds is not None and len(contenders) > 1
    blocks = [1] * repeats if rounds is None else \
        [len(part) for part in np.array_split(np.arange(repeats), min(rounds, repeats))]
    samples = {name: [] for name in contenders}
    gc.disable()  # a collection inside one sample would be charged to that contender
    try:
        for block in blocks:
            for name, fn in contenders.items():
                if settle:
                    start = time.perf_counter()
                    fn()
                    while time.perf_counter() - start < SETTLE_SECONDS:
                        fn()
                for _ in range(block):
                    runtime.check_interrupted()  # a Ctrl-C a library swallowed
                    start = time.perf_counter()
                    for _ in range(calls[name]):
                        fn()
                    samples[name].append((time.perf_counter() - start) / calls[name])
    finally:
        gc.enable()
    return {name: summary(samples[name], calls[name], first.get(name))
            for name in contenders}


SAMPLE_DIGITS = 4  # significant digits of each stored sample: finer than any timing's noise


def summary(samples, calls_per_sample=1, first_call=None):
    """measure()'s statistics of per-call seconds sampled elsewhere, and the samples
    themselves in the order taken (to SAMPLE_DIGITS significant digits): `--compare` tests
    two reports' samples against each other (kernels.bench.judging.compare)."""
    p25, median, p75 = np.percentile(samples, [25, 50, 75])
    return dict(median=float(median), p25=float(p25), p75=float(p75),
                min=float(np.min(samples)), repeats=len(samples),
                calls_per_sample=calls_per_sample, first_call=first_call,
                samples=[float(f"{s:.{SAMPLE_DIGITS}g}") for s in samples])


def measure_once(fn):
    """One timed call, as measure() reports it: for calls that take seconds (the naive
    reference), where warm-up and repeats would multiply minutes and a sample of the
    caches' state matters nothing."""
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return dict(median=seconds, p25=seconds, p75=seconds, min=seconds, repeats=1,
                calls_per_sample=1, first_call=seconds,
                samples=[float(f"{seconds:.{SAMPLE_DIGITS}g}")])


def gemm_peak(dtype, repeats, n=1536):
    """NumPy matmul rate (GF/s) on square n x n matrices: the machine's practical limit."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    stats = measure(lambda: a @ b, repeats)
    # The median, like every case's GF/s: comparing a best case with typical ones would
    # flatter the limit and belittle the backends.
    return dict(n=n, gflops=2 * n**3 / stats["median"] / 1e9,
                best_gflops=2 * n**3 / stats["min"] / 1e9)


FMA_BYTES_PER_CYCLE = 64  # the formula's assumption: two 256-bit FMA pipes a core


def clock_mhz(cpuinfo: str | None = None) -> float | None:
    """The highest "cpu MHz" in /proc/cpuinfo (None where there is none, e.g. macOS): the
    listed clock, often the base clock in a VM, not the one the cores run at."""
    cpuinfo = runtime.cpuinfo() if cpuinfo is None else cpuinfo
    found = [float(line.split(":")[1]) for line in cpuinfo.splitlines()
             if line.startswith("cpu MHz")]
    return max(found) if found else None


def formula_peak(dtype, cores: int, mhz: float | None = None) -> float | None:
    """The computed cross-check of the measured peak (kernels.support.peak), never a
    denominator: cores x FMA lanes per cycle x 2 (an FMA is two flops) x the listed clock.
    It assumes FMA_BYTES_PER_CYCLE and the listed clock; a CPU with two 512-bit FMA units,
    or one that boosts above the listed clock, beats it (SGEMM ran at 237 % of it on an
    Intel Emerald Rapids)."""
    mhz = clock_mhz() if mhz is None else mhz
    if mhz is None:
        return None
    lanes = FMA_BYTES_PER_CYCLE // np.dtype(dtype).itemsize
    return cores * lanes * 2 * mhz / 1e3


def machine_peak(dtype, threads: int, *, refresh: bool = True) -> dict:
    """The report environment's machine record: the fingerprint with the measured peak
    (kernels.support.machine/peak; measured afresh for a report, the cache keeping the best),
    `peak_gflops` for the report's dtype, and the formula's figure as the labelled
    cross-check (`formula_peak_gflops`, with the listed clock)."""
    info = peak.fingerprint(threads, refresh=refresh)
    cpuinfo = runtime.cpuinfo()
    mhz = clock_mhz(cpuinfo)
    cores = min(threads, runtime.physical_cores(cpuinfo) or os.cpu_count() or threads)
    measured = (info["peak"] or {}).get(np.dtype(dtype).name, {})
    return dict(machine=info, peak_gflops=measured.get("gflops"), listed_clock_mhz=mhz,
                formula_peak_gflops=None if mhz is None else formula_peak(dtype, cores, mhz))


def workspace_bytes(run):
    """Peak NumPy allocation of run() beyond the arrays it returns (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        results = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(a.nbytes for a in results if isinstance(a, np.ndarray))
    return max(0, peak - kept)


def memory_bandwidth(repeats, megabytes=256):
    """The machine's memory bandwidth in GB/s, the second roof of the roofline: STREAM's
    triad on three float64 arrays of `megabytes` each (far beyond any cache), in parallel on
    every thread Numba may use, and NumPy's single-threaded copy. STREAM counts the bytes
    the program asks for (3 arrays for triad, 2 for copy), not write-allocate traffic."""
    n = megabytes * 2**20 // 8
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    triad = peak.parallel_triad()
    triad_stats = measure(lambda: triad(a, b, c, 3.0), repeats)
    copy_stats = measure(lambda: np.copyto(a, b), repeats)
    return dict(megabytes=megabytes,
                triad_gbs=3 * a.nbytes / triad_stats["median"] / 1e9,
                copy_gbs=2 * a.nbytes / copy_stats["median"] / 1e9)
