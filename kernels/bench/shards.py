"""`--shard i/n`: one of n parts of a `bench` or `map` run, for sweeps spread over machines.

Shards are numbered from 1, as "the first of two" reads: `--shard 1/2` and `--shard 2/2`
(a Slurm array `--array=1-N` passes its task ids unchanged; kernels.bench.fleet does that).

What is split is the run's *units*: for `bench`, each selected layer case ("case NAME") and,
when a whole-model section runs, each architecture ("model ARCH": its training step,
evaluation, breakdown and memory run stay together); for `map`, each point ("channels k=3
C=4 H=16", "size k=3 C=16 H=8") or each user case ("case NAME"). The units are put in a
natural order of their labels (numbers compared as numbers: k=3 before k=11) and dealt out
like cards in a snake, 1, 2, ..., n, n, ..., 2, 1, 1, 2, ...: with two shards and a quick
map's channels 4 and 64 at every kernel size, a plain round-robin gave every 64-channel
point to shard 2. So the split depends only on the selection the command line makes - never
on dict or set iteration order, nor on which backends a machine has installed (they are not
units) - every unit lands in exactly one shard, and the shards' sizes differ by at most
one. The split balances counts, not seconds: a point's cost is not known before it is
timed.

Each shard's JSON records `shard`: its index and count, its own units and every unit of the
whole run (`of`), and the backends it was asked to time; `python -m kernels merge` joins the
shards back (kernels.bench.merge).
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
MODEL_SECTIONS = ("train", "eval", "breakdown", "memory")


def parse(text: str) -> tuple[int, int]:
    """(i, n) of "i/n", 1 <= i <= n; ValueError with a one-line reason otherwise."""
    match = _SPEC.fullmatch(text or "")
    if match is None:
        raise ValueError(f"--shard {text!r}: write it i/n, e.g. 1/4 (the first of four)")
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise ValueError(f"--shard {text}: the count n must be at least 1")
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: i must be from 1 to {count} (shards are numbered "
                         "from 1)")
    return index, count


def natural_key(label: str):
    """Sort key of a unit's label: its digit runs compared as numbers."""
    parts = re.split(r"(\d+)", label)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), label


def split(units, index: int, count: int) -> list:
    """The units of shard `index` of `count` (1-based), in the order `units` gives them."""
    if len(set(units)) != len(units):
        raise ValueError("a unit is listed twice")
    ranked = sorted(units, key=natural_key)
    mine = {u for position, u in enumerate(ranked) if deal(position, count) == index}
    return [u for u in units if u in mine]


def deal(position: int, count: int) -> int:
    """The shard (from 1) of the unit at `position` in the natural order: a snake, 1..n then
    n..1, so that a shard taking the first of each group of n does not also take the
    first of every next group."""
    turn, seat = divmod(position, count)
    return seat + 1 if turn % 2 == 0 else count - seat


def check_count(units, count: int, what: str) -> str | None:
    """Why `count` shards cannot split `units`, or None: a shard with nothing to time."""
    if count > len(units):
        return (f"--shard: {count} shards for {len(units)} {what}; use at most "
                f"{max(1, len(units))} shards")
    return None


def record(index: int, count: int, mine, units, backends) -> dict:
    """The `shard` key of a shard's JSON."""
    return dict(index=index, count=count, numbering="from 1", units=list(mine),
                of=list(units), backends=list(backends))


# ---------------------------------------------------------------- bench's units

def bench_units(plan) -> list[str]:
    """The units of a `bench` plan (kernels.bench.report.Plan), in the plan's order: the
    cases whose kind a selected section measures, then the architectures when a whole-model
    section runs."""
    units = [f"case {c.name}" for c in plan.cases if c.kind in plan.sections]
    if set(plan.sections) & set(MODEL_SECTIONS):
        units += [f"model {a}" for a in plan.archs]
    return units


def bench_shard(plan, index: int, count: int):
    """(the plan cut to shard `index` of `count`, its `shard` record) or ValueError."""
    from dataclasses import replace

    units = bench_units(plan)
    if problem := check_count(units, count, "cases and models to split"):
        raise ValueError(problem)
    mine = split(units, index, count)
    cases = [c for c in plan.cases if f"case {c.name}" in mine]
    archs = [a for a in plan.archs if f"model {a}" in mine]
    return replace(plan, cases=cases, archs=archs), record(index, count, mine, units,
                                                           plan.backends)


# ---------------------------------------------------------------- map's units

def point_unit(panel: str, k: int, C: int, H: int) -> str:
    return f"{panel} k={k} C={C} H={H}"


def unit_of_point(panel: str, p: dict) -> str:
    return point_unit(panel, p["k"], p["C"], p["H"])
