"""pytest-benchmark on a busy machine says so where its numbers are (issue 23: one core taken
by another job made many-small-GEMM algorithms 100x slower, and nothing in the timings said
so). Loaded by tests/conftest.py.

Every timed benchmark runs inside a kernels.bench.measuring.load section of its own, which
records the CPU time other processes took meanwhile (/proc/stat, at once) and the 1-minute load
average (it lags), and judges it busy by the same rule as `python -m kernels bench`: more than
a quarter of a core of other work, or the load average above the logical CPUs. The JSON
(--benchmark-json, --benchmark-save) gets each benchmark's load in its `extra_info.load` and
the session's in `machine_info.load`; a line after the timings' table warns when any benchmark
ran on a busy machine. Both are flags to read beside the timings, not corrections.
"""

from __future__ import annotations

import pytest

from kernels.bench.measuring import load

KEPT = ("wall_seconds", "others_per_wall", "load_max", "busy")  # of a section's record
CLOCK = load.SectionClock()  # one per process: a pytest run is one session


def _timed(item) -> bool:
    """Whether the test times something with pytest-benchmark in this run (a plain `pytest`
    runs each benchmark once, untimed: see conftest.py)."""
    return "benchmark" in getattr(item, "fixturenames", ()) and \
        not getattr(item.config.option, "benchmark_disable", True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _timed(item):
        yield
        return
    with CLOCK.section(item.nodeid):
        yield


def session_load(sections) -> dict:
    """The whole session's figures: how many benchmarks ran busy, the most cores other work
    took during one, the highest load average seen."""
    values = list(sections.values())
    others = [s["others_per_wall"] for s in values if s.get("others_per_wall") is not None]
    loads = [s["load_max"] for s in values if s.get("load_max") is not None]
    return dict(benchmarks=len(values), busy=sum(bool(s["busy"]) for s in values),
                others_per_wall_max=max(others, default=None),
                load_max=max(loads, default=None))


def update_json(output_json, sections) -> None:
    """Each benchmark's load into its extra_info, the session's into machine_info."""
    for bench in output_json.get("benchmarks", []):
        section = sections.get(bench.get("fullname"))
        if section is not None:
            bench.setdefault("extra_info", {})["load"] = {k: section.get(k) for k in KEPT}
    output_json.setdefault("machine_info", {})["load"] = session_load(sections)


@pytest.hookimpl(optionalhook=True)  # pytest-benchmark's hook: absent without it
def pytest_benchmark_update_json(config, benchmarks, output_json):
    update_json(output_json, CLOCK.sections)


def busy_warning(sections) -> str | None:
    """The line after the timings' table when any benchmark ran on a busy machine."""
    summary = session_load(sections)
    if not summary["busy"]:
        return None
    others, average = summary["others_per_wall_max"], summary["load_max"]
    others = "-" if others is None else f"{others:.2f}"
    average = "-" if average is None else f"{average:.1f}"
    return (f"BUSY: {summary['busy']} of {summary['benchmarks']} benchmarks ran while the "
            f"machine was busy (other processes took up to {others} cores, load average up "
            f"to {average}): their timings are slower than this machine's own; each one's "
            "extra_info.load in the JSON says which")


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's table
def pytest_terminal_summary(terminalreporter):
    if warning := busy_warning(CLOCK.sections):
        terminalreporter.write_line(warning, yellow=True, bold=True)
