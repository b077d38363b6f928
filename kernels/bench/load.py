"""How busy the machine was while each part of a report ran, so that a figure measured on a
loaded machine says so.

Per section (`machine`: the GEMM rate and memory bandwidth; then each of the report's
sections) a `SectionClock` records its wall time, this process's CPU time (every thread's),
their ratio (the CPU time of the memory section's fresh processes included), and the
1-minute load average at its start and end (os.getloadavg: runnable
threads of every process, ours included). A section counts as `busy` when the load average
exceeded the machine's logical CPUs by more than BUSY_MARGIN at either end: more threads
wanted to run than there were CPUs, so some of ours waited, or other work shared the caches
and memory bandwidth. The load average is a 1-minute mean that lags the machine's state, and
our own threads are part of it: a flag to read beside the figures, not a correction of them.
"""

from __future__ import annotations

import contextlib
import os
import time

BUSY_MARGIN = 0.5


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_seconds() -> float:
    """CPU time of this process's threads and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


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
        try:
            yield
        finally:
            entry = self.sections.setdefault(name, dict(
                wall_seconds=0.0, cpu_seconds=0.0, load_start=load_start, load_end=None,
                load_max=load_start))
            entry["wall_seconds"] += time.perf_counter() - wall
            entry["cpu_seconds"] += cpu_seconds() - cpu
            entry["load_end"] = load_average()
            loads = [v for v in (entry["load_max"], load_start, entry["load_end"])
                     if v is not None]
            entry["load_max"] = max(loads) if loads else None
            entry["cpu_per_wall"] = entry["cpu_seconds"] / entry["wall_seconds"] \
                if entry["wall_seconds"] > 0 else None
            entry["busy"] = is_busy(loads)

    def busy(self, name) -> bool | None:
        """Whether the section was busy; None if it did not run."""
        entry = self.sections.get(name)
        return None if entry is None else entry["busy"]
