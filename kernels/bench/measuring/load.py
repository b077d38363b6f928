"""How busy the machine was while each part of a report ran, so that a figure measured on a
loaded machine says so.

Per section (`machine`: the GEMM rate and memory bandwidth; then each of the report's
sections) a `SectionClock` records its wall time, this process's CPU time (every thread's),
their ratio (the CPU time of the memory section's fresh processes included), and the
1-minute load average at its start and end (os.getloadavg: runnable
threads of every process, ours included). A section counts as `busy` when the load average
exceeded the machine's logical CPUs by more than BUSY_MARGIN at either end: more threads
wanted to run than there were CPUs, so some of ours waited, or other work shared the caches
and memory bandwidth.

The load average is a 1-minute mean: it lags, and a job that starts on the other core takes
a minute to show. So each section also records the CPU time *other* processes (and, in a
VM, other guests: steal) took while it ran - /proc/stat's busy time of every CPU less this
process's own - per second of wall time (`others_per_wall`, in cores). Above
OTHERS_BUSY_CORES, over at least MIN_OTHERS_SECONDS, the section is busy too: one core taken by another job was seen to make
many-small-GEMM algorithms 100x slower. Both are flags to read beside the figures, not
corrections of them.
"""

from __future__ import annotations

import contextlib
import os
import time

from ...support.busy import machine_cpu_seconds
from ...support.busy import own_cpu_seconds as cpu_seconds

BUSY_MARGIN = 0.5
OTHERS_BUSY_CORES = 0.25  # a quarter of a core of other work, on average over the section
MIN_OTHERS_SECONDS = 0.5  # /proc/stat counts 10 ms ticks: shorter sections are not judged


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def is_busy(loads, cpus=None) -> bool:
    """Whether any of the load averages exceeds the logical CPUs by more than BUSY_MARGIN."""
    cpus = cpus or os.cpu_count() or 1
    return any(load is not None and load > cpus + BUSY_MARGIN for load in loads)


class SectionClock:
    """Wall time, CPU time and load average per named section; a section measured in
    several stretches (conv and pool cases interleave) accumulates them."""

    def __init__(self):
        self.sections: dict[str, dict] = {}

    @contextlib.contextmanager
    def section(self, name):
        load_start, wall, cpu = load_average(), time.perf_counter(), cpu_seconds()
        everyone = machine_cpu_seconds()
        try:
            yield
        finally:
            entry = self.sections.setdefault(name, dict(
                wall_seconds=0.0, cpu_seconds=0.0, load_start=load_start, load_end=None,
                load_max=load_start, others_cpu_seconds=0.0 if everyone is not None
                else None))
            entry["wall_seconds"] += time.perf_counter() - wall
            mine = cpu_seconds() - cpu
            entry["cpu_seconds"] += mine
            if everyone is not None and entry["others_cpu_seconds"] is not None:
                # tick-rounded on both sides: a negative remainder is rounding, not credit
                entry["others_cpu_seconds"] += max(0.0, machine_cpu_seconds() - everyone
                                                   - mine)
            entry["load_end"] = load_average()
            loads = [v for v in (entry["load_max"], load_start, entry["load_end"])
                     if v is not None]
            entry["load_max"] = max(loads) if loads else None
            entry["cpu_per_wall"] = entry["cpu_seconds"] / entry["wall_seconds"] \
                if entry["wall_seconds"] > 0 else None
            others = entry["others_cpu_seconds"]
            entry["others_per_wall"] = None if others is None or not entry["wall_seconds"] \
                else others / entry["wall_seconds"]
            entry["busy"] = is_busy(loads) or (
                entry["wall_seconds"] >= MIN_OTHERS_SECONDS
                and (entry["others_per_wall"] or 0) > OTHERS_BUSY_CORES)

    def busy(self, name) -> bool | None:
        """Whether the section was busy; None if it did not run."""
        entry = self.sections.get(name)
        return None if entry is None else entry["busy"]
