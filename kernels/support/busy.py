"""Whether other work took CPU while something of ours ran: the busy time of every CPU from
/proc/stat (user, nice, system, irq, softirq, and steal: other guests of a VM), less this
process's own CPU time, per second of wall time, in cores.

Cheap enough for every training epoch (two reads of /proc/stat's first line), and immediate
where the 1-minute load average lags a job started on the other core by a minute. One core
taken by another job was seen to make the default 2-thread training 3.3x slower and
many-small-GEMM algorithms 100x slower (issue 23): the figure is a flag to read beside the
seconds, not a correction of them. kernels.bench.load judges a report's sections by the same
rule; here it is for what sits below kernels.bench (the CNN's training loop).
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


def machine_cpu_seconds() -> float | None:
    """CPU seconds every CPU spent busy since boot, steal included; None where there is no
    /proc/stat (macOS, Windows)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]] + [0] * 8
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


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
