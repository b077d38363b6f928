"""The machine's measured roofs: the FMA peak, the clock it runs at, and memory bandwidth.

A share of peak means something only against a rate the machine can actually reach. A peak
computed as cores x lanes x 2 x the listed clock assumes one vector FMA a cycle and the
clock in /proc/cpuinfo; an Intel server core retires two and most CPUs boost above the
listed clock, so SGEMM ran at 237 % of such a "peak". Here the peak is measured instead:

- FMA probe: a loop of K independent vector FMAs acc_k = acc_k * m + c on registers of the
  widest width the kernels compile to (kernels.support.machine), written in LLVM IR and
  compiled for Numba's own target, so it runs exactly the instructions the kernels can use.
  Each FMA depends on the previous one of its accumulator only, so with K >= latency x
  units (at most 5 cycles x 2 units on the CPUs seen; K = 12 fits 16 registers with m and c)
  the FMA units, not latency, bound it. It runs on every pinned thread at once (ctypes
  releases the GIL), float32 and float64; a target without FMA gets a multiply and an add.
- Clock probe (x86): a chain of dependent register adds retires one a cycle on every x86
  core, so adds / second is the clock the cores really run at under load, which benchdnn
  reports too. Measured right before and after each FMA round, on every thread.
- FMA units a core = peak / cores used / (lanes x 2 x clock), the cores used being
  min(threads, physical cores) (SMT siblings share their core's units): a whole number up
  to noise (1 on Zen 4, whose 512-bit FMA takes both 256-bit halves, 2 on Zen 3 in ymm and
  on Intel's AVX-512 server cores), the probe's own cross-check.
- Bandwidth: STREAM's triad over all threads on 3 x 256 MiB.

The best of a few rounds is kept (the peak is what the machine can do; load only lowers a
round), and cached per machine fingerprint in ~/.cache/convbench/machine/ (CONVBENCH_CACHE
or XDG_CACHE_HOME move it); a later measurement replaces it only when it is higher.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from . import files, machine, probes, runtime

ROUNDS = 5
SECONDS_PER_CALL = 0.05


def _together(threads: int, call, n: int) -> float:
    """Seconds for `threads` threads to each run call(n), started together."""
    barrier = threading.Barrier(threads + 1)
    done = []

    def work():
        barrier.wait()
        call(n)
        done.append(time.perf_counter())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return max(done) - start


def _calibrated(call, seconds=SECONDS_PER_CALL) -> int:
    """The n that makes call(n) last about `seconds` on one thread."""
    n = 1000
    while True:
        start = time.perf_counter()
        call(n)
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 8:
            return max(1, int(n * seconds / elapsed))
        n *= 8


def probe(dtype, threads: int, rounds: int = ROUNDS) -> dict:
    """Measure the FMA peak of `dtype` and the clock on `threads` threads at once."""
    bits = machine.vector_bits()
    lanes = bits // (8 * np.dtype(dtype).itemsize)
    kernel, fused = probes.fma_kernel(np.dtype(dtype).name, lanes)
    fma = lambda n: kernel.call(n, 0.9999, 1e-4)  # noqa: E731  (converges to 1: no overflow)
    fma_n = _calibrated(fma)
    flops = threads * fma_n * probes.ACCUMULATORS * lanes * 2
    adder = probes.clock_kernel()
    if adder is not None:
        add = lambda n: adder.call(n, 1, 3)  # noqa: E731
        add_n = _calibrated(add, SECONDS_PER_CALL / 4)
    rounds_seen = []  # (FMA flops/s, the clock around it in Hz, or None)
    for _ in range(rounds):
        before = None if adder is None else \
            add_n * probes.ADDS_PER_BLOCK / _together(threads, add, add_n)
        rate = flops / _together(threads, fma, fma_n)
        after = None if adder is None else \
            add_n * probes.ADDS_PER_BLOCK / _together(threads, add, add_n)
        rounds_seen.append((rate, None if adder is None else (before + after) / 2))
    # The best round, with its own clock: load from elsewhere slows the adds and the FMAs
    # of one round alike, so their ratio (the FMA units) holds even when the rate does not.
    best_rate, hz = max(rounds_seen, key=lambda r: r[0])
    result = dict(gflops=best_rate / 1e9, lanes=lanes, vector_bits=bits, fma=fused,
                  accumulators=probes.ACCUMULATORS, threads=threads)
    if hz:
        # per core, not per thread: SMT siblings share their core's FMA units
        cores = min(threads, runtime.physical_cores() or threads)
        units = best_rate / cores / (lanes * 2 * hz)
        result.update(clock_mhz=hz / 1e6, fma_units=max(1, round(units)),
                      fma_units_measured=units)
    else:
        result.update(clock_mhz=None, fma_units=None, fma_units_measured=None)
    return result


@functools.lru_cache(maxsize=1)
def parallel_triad():
    """a[i] = b[i] + s * c[i] over all of Numba's threads (STREAM's triad)."""
    from numba import prange

    from .jit import njit  # configures Numba before its first kernel

    @njit(parallel=True, nogil=True)
    def triad(a, b, c, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]
    return triad


def triad_bandwidth(repeats: int = 5, megabytes: int = 256) -> float:
    """STREAM triad GB/s (the best of `repeats`) on three float64 arrays of `megabytes`."""
    n = megabytes * 2**20 // 8
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    triad = parallel_triad()
    triad(a, b, c, 3.0)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        triad(a, b, c, 3.0)
        best = min(best, time.perf_counter() - start)
    return 3 * a.nbytes / best / 1e9


def cache_file(machine_id: str) -> Path:
    base = os.environ.get("CONVBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "convbench")
    return Path(base) / "machine" / f"{machine_id}.json"


def _read(path: Path) -> dict | None:
    try:
        with open(path) as f:
            found = json.load(f)
        return found if isinstance(found, dict) and "peak" in found else None
    except (OSError, ValueError):
        return None


def measure(threads: int) -> dict:
    """A fresh measurement: the peak of both dtypes, the clock and the bandwidth."""
    start = time.perf_counter()
    peaks = {name: probe(name, threads) for name in ("float32", "float64")}
    bandwidth = triad_bandwidth()
    return dict(peak=peaks, bandwidth_gbs=bandwidth,
                measured=datetime.datetime.now(datetime.timezone.utc)
                .isoformat(timespec="seconds"),
                probe_seconds=round(time.perf_counter() - start, 2))


def _better(old: dict | None, new: dict) -> dict:
    """Per dtype the higher peak, and the higher bandwidth, of two measurements."""
    if old is None:
        return new
    merged = dict(new, peak=dict(new["peak"]))
    for name, found in old["peak"].items():
        if found.get("gflops", 0) > merged["peak"].get(name, {}).get("gflops", 0):
            merged["peak"][name] = found
    merged["bandwidth_gbs"] = max(old.get("bandwidth_gbs") or 0, new["bandwidth_gbs"])
    return merged


def measured(threads: int, *, refresh: bool = False) -> dict:
    """The peak, clock and bandwidth of this machine on `threads` threads: from the cache
    when it has them, else (or with `refresh`) measured now and the cache updated."""
    path = cache_file(machine.identity(threads)["id"])
    cached = _read(path)
    if cached is not None and not refresh:
        return dict(cached, cached=True)
    result = _better(cached, measure(threads))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(path, lambda f: f.write(json.dumps(result, indent=1).encode()))
    except OSError:
        pass  # a read-only home: the figure is still right, only not kept
    return dict(result, cached=False)


def fingerprint(threads: int, *, refresh: bool = False) -> dict:
    """The machine's identity (kernels.support.machine) with its measured peak, clock and
    bandwidth: what a result names so that it can be read beside another machine's. Code
    compiled for another CPU (NUMBA_CPU_NAME) is never run: then the peak is null, with why."""
    if reason := machine.foreign_target():
        return {**machine.identity(threads), "peak": None, "bandwidth_gbs": None,
                "not_measured": reason}
    return {**machine.identity(threads), **measured(threads, refresh=refresh)}
