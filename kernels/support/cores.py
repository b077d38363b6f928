"""The cores other work leaves free, and the default thread count that follows them.

On a shared machine a thread count equal to the cores is wrong as soon as another job holds
one of them: every parallel region then waits for a core at each hand-off (a default `cnn
train` ran 3.3x slower on 2 threads than on 1 with one core taken; issue 23). So when no
--threads is given, the commands sample for SAMPLE_SECONDS how much CPU time *other*
processes take - /proc/stat's busy time of the CPUs this process may run on less its own,
per second of wall time, in cores - and use the usable cores less those busy, at least one.
The choice is printed in one line at start; an explicit --threads always wins.

/proc/stat counts 10 ms ticks per CPU: a 0.2 s sample of 2 cores has 40, so a core counts as
busy once other work took at least half of it (rounded to the nearest core).
"""

from __future__ import annotations

import os
import time

from .busy import own_cpu_seconds
from .runtime import usable_cores

SAMPLE_SECONDS = 0.2


def _busy(fields) -> float:
    """Busy ticks of a /proc/stat cpu line: user, nice, system, irq, softirq, steal."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = \
        ([int(v) for v in fields[1:9]] + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def cpus_busy_seconds(cpus=None) -> float | None:
    """CPU seconds the CPUs numbered in `cpus` (all: None) spent busy since boot, from
    /proc/stat's per-CPU lines (kernels.support.busy reads the machine's total line: a
    container's few CPUs must not count the host's other work); None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return None
    ticks = sum(_busy(f) for f in lines if f[0][3:].isdigit()
                and (cpus is None or int(f[0][3:]) in cpus))
    return ticks / os.sysconf("SC_CLK_TCK") if lines else None


def _affinity():
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # macOS, Windows: no affinity, and no /proc/stat either
        return None


def others_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores' worth of CPU time other processes took on this process's CPUs over a `seconds`
    sample (None where there is no /proc/stat)."""
    cpus = _affinity()  # a container's share: work on the machine's other CPUs is not ours
    everyone, mine, wall = cpus_busy_seconds(cpus), own_cpu_seconds(), time.perf_counter()
    if everyone is None:
        return None
    time.sleep(seconds)
    wall = time.perf_counter() - wall
    others = cpus_busy_seconds(cpus) - everyone - (own_cpu_seconds() - mine)
    return max(0.0, others) / wall  # tick-rounded on both sides: negative is rounding


def default_threads() -> tuple[int, str]:
    """(threads, the line that says why): the usable cores less those busy with other work,
    at least one."""
    cores, others = usable_cores(), others_cores()
    busy = 0 if others is None else min(cores, int(others + 0.5))
    threads = max(1, cores - busy)
    why = f"{cores} core{'s' if cores != 1 else ''}"
    if others is not None:
        why += f", {busy} busy with other work"
    return threads, f"threads: {threads} ({why}; --threads N to choose)"
