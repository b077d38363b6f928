"""Whether other work took CPU while something of ours ran: the busy time of the CPUs this
process may use, from /proc/stat (user, nice, system, irq, softirq, and steal: other guests
of a VM), less this process's own CPU time, per second of wall time, in cores. The one
/proc/stat reader: kernels.support.cores (the default thread count) and kernels.bench.measuring.load
(a report's sections) read through it.

Cheap enough for every training epoch (two reads of /proc/stat's first line), and immediate
where the 1-minute load average lags a job started on the other core by a minute. One core
taken by another job was seen to make the default 2-thread training 3.3x slower and
many-small-GEMM algorithms 100x slower (issue 23): the figure is a flag to read beside the
seconds, not a correction of them. kernels.bench.measuring.load judges a report's sections
by the same rule; here it is for what sits below kernels.bench (the CNN's training loop).
"""

from __future__ import annotations

import os
import time

OTHERS_BUSY_CORES = 0.25  # a quarter of a core of other work, on average over the stretch
MIN_SECONDS = 0.5  # /proc/stat counts 10 ms ticks: shorter stretches are not judged


def own_cpu_seconds() -> float:
    """CPU time of this process's threads and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _busy_ticks(fields) -> int:
    """Busy ticks of a /proc/stat cpu line: user, nice, system, irq, softirq, and steal."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = \
        ([int(v) for v in fields[1:9]] + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def usable_cpus() -> set[int] | None:
    """The CPUs this process may run on (None where the OS has no affinity: macOS, Windows)."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:
        return None


def cpus_busy_seconds(cpus=None) -> float | None:
    """CPU seconds the CPUs numbered in `cpus` (every CPU: None) spent busy since boot, steal
    included, from /proc/stat's per-CPU lines; None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return None
    per_cpu = [f for f in lines if f[0][3:].isdigit()]
    if not per_cpu:
        return None
    ticks = sum(_busy_ticks(f) for f in per_cpu if cpus is None or int(f[0][3:]) in cpus)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float | None:
    """CPU seconds the CPUs this process may use spent busy since boot (a container's share:
    work on the host's other CPUs is not ours to count); None without /proc/stat."""
    return cpus_busy_seconds(usable_cpus())


def mark() -> tuple:
    """The start of a stretch, for others_since."""
    return time.perf_counter(), own_cpu_seconds(), machine_cpu_seconds()


def others_since(start: tuple) -> dict | None:
    """Since `start` (from mark()): `others_cores`, the cores other processes kept busy on
    average, `wall_seconds`, and `busy`: others above OTHERS_BUSY_CORES (None for a stretch
    shorter than MIN_SECONDS, too few ticks to judge). None without /proc/stat."""
    wall, mine, everyone = start
    now = machine_cpu_seconds()
    if everyone is None or now is None:
        return None
    wall = time.perf_counter() - wall
    # both sides are tick-rounded: a negative remainder is rounding, not credit
    others = max(0.0, now - everyone - (own_cpu_seconds() - mine))
    cores = others / wall if wall > 0 else 0.0
    return dict(others_cores=cores, wall_seconds=wall,
                busy=None if wall < MIN_SECONDS else cores > OTHERS_BUSY_CORES)
