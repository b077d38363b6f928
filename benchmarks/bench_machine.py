"""The machine in asv's history: its measured FMA peak, per dtype, beside every timing.

asv keeps each machine's results apart by name; these tracks put the fingerprint's measured
figures (kernels.support.peak) into the same history, so a jump in a conv timing can be read
against a change of the machine itself (a new host under the same name, another clock). asv
reads every track as lower-is-better, so the peak is tracked as seconds per GFLOP.
"""

from kernels.support import peak, runtime


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
