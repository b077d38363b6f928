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

import time

from .busy import machine_cpu_seconds, own_cpu_seconds
from .runtime import usable_cores

SAMPLE_SECONDS = 0.2


def others_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores' worth of CPU time other processes took on this process's CPUs over a `seconds`
    sample (None where there is no /proc/stat)."""
    everyone, mine, wall = machine_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
    if everyone is None:
        return None
    time.sleep(seconds)
    wall = time.perf_counter() - wall
    others = machine_cpu_seconds() - everyone - (own_cpu_seconds() - mine)
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
