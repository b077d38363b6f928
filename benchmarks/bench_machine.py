"""The machine in asv's history: its measured FMA peak, per dtype, and how busy it was, beside
every timing.

asv keeps each machine's results apart by name; these tracks put the fingerprint's measured
figures (kernels.support.peak) into the same history, so a jump in a conv timing can be read
against a change of the machine itself (a new host under the same name, another clock). asv
reads every track as lower-is-better, so the peak is tracked as seconds per GFLOP.
"""

import sys
import time

from kernels.support import peak, runtime

LOAD_WINDOW_SECONDS = 3.0  # /proc/stat counts 10 ms ticks: 300 ticks a CPU


class MachinePeak:
    param_names = ["dtype"]
    params = [["float32", "float64"]]
    timeout = 300

    def setup_cache(self):
        """Measured once per run, afresh (the cache keeps the higher of old and new)."""
        threads = runtime.usable_cores()
        runtime.pin_threads(threads)
        return peak.fingerprint(threads, refresh=True)

    def track_peak_seconds_per_gflop(self, info, dtype):
        return 1.0 / info["peak"][dtype]["gflops"]
    track_peak_seconds_per_gflop.unit = "seconds"  # per GFLOP: lower is better


class MachineLoad:
    """The CPU time other processes (and, in a VM, other guests' steal) took, in cores, over
    LOAD_WINDOW_SECONDS while this benchmark sleeps: asv runs one benchmark at a time, so
    nothing of ours runs meanwhile. It is a sample at the moment asv reaches it, not an
    average over the run. Above kernels.bench.load.OTHERS_BUSY_CORES the run was busy: read
    every timing of the same commit as suspect (a core taken by another job was seen to make
    many-small-GEMM algorithms 100x slower), and a line on stderr says so (`asv run
    --show-stderr`). Skipped at commits whose kernels.bench.load cannot measure it."""

    rounds = 1
    timeout = 60

    def setup(self):
        try:
            from kernels.bench import load
        except ImportError:
            load = None
        if load is None or getattr(load, "OTHERS_BUSY_CORES", None) is None \
                or load.machine_cpu_seconds() is None:
            raise NotImplementedError("no measure of other processes' CPU use "
                                      "(no /proc/stat, or none at this commit)")
        self.load = load

    def track_other_processes_cores(self):
        clock = self.load.SectionClock()
        with clock.section("asv"):
            time.sleep(LOAD_WINDOW_SECONDS)
        cores = clock.sections["asv"]["others_per_wall"]
        # Not the section's `busy`: that also reads the 1-minute load average, which counts
        # the benchmarks asv ran here in the minute before.
        if cores > self.load.OTHERS_BUSY_CORES:
            print(f"convbench: BUSY machine: other processes took {cores:.2f} cores (over "
                  f"{self.load.OTHERS_BUSY_CORES}) while asv ran; the timings of this run "
                  "are suspect", file=sys.stderr)
        return cores
    track_other_processes_cores.unit = "cores"  # of other work: lower is better
