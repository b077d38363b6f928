"""`python -m kernels bench --machines A.json B.json ...`: several machines' reports side by
side on the console (and with `--markdown PATH` in a file). What the table holds, and why no
milliseconds are set against another machine's, is kernels.bench.judging.machines'."""

from __future__ import annotations

from pathlib import Path

from ..support.command_line import fail
from ..support.files import atomic_write
from .judging.machines import machine_name, table
from .judging.shares import measured_peak
from .judging.report_file import CompareError, load
from .output import markdown as markdown_format, render

PROG = "python -m kernels bench --machines"


def _labels(paths, reports) -> dict:
    """{label: report}: each file's name without its folder and suffix (the whole path
    where two names would be the same)."""
    stems = [Path(p).stem for p in paths]
    return {stem if stems.count(stem) == 1 else str(path): report
            for stem, path, report in zip(stems, paths, reports)}


def _peak_text(peak) -> str:
    return f"measured peak {peak:.1f} GF/s" if peak else \
        "no measured peak (a report before the machine fingerprint)"


def main(paths, markdown=None) -> int:

    try:
        reports = [load(p) for p in paths]
    except CompareError as e:
        return fail(PROG, e)
    if len(set(map(str, paths))) < len(paths):
        return fail(PROG, "a report is given twice")
    labelled = _labels(paths, reports)
    headers, rows = table(labelled)
    if not rows:
        return fail(PROG, "nothing to tabulate: the reports have no layer case")
    print("Our fastest algorithm per case on each machine, as a share of that machine's "
          "measured peak and as x the fastest framework on that machine (no milliseconds "
          "across machines: they measure the machine, not the code)")
    for label, report in labelled.items():
        peak = measured_peak(report)
        date = (report.get("environment") or {}).get("date", "?")[:10]
        print(f"  {label}: {machine_name(report)}, {date}, " + _peak_text(peak))
    print(render._aligned(headers, rows))
    if markdown:
        lines = ["# Our fastest algorithm on each machine", "",
                 "Per case and machine: the winner among our algorithms (all three passes), "
                 "its share of that machine's measured peak, and its time over the fastest "
                 "framework's on that machine. Made by `python -m kernels bench --machines "
                 + " ".join(map(str, paths)) + "`.", ""]
        for label, report in labelled.items():
            peak = measured_peak(report)
            lines.append(f"- {label}: {machine_name(report)}, " + _peak_text(peak))
        lines += ["", *markdown_format.table(headers, rows, "<" * len(headers)), ""]
        text = "\n".join(lines)
        try:
            atomic_write(markdown, lambda f: f.write(text.encode()))
        except OSError as e:
            return fail(PROG, e)
        print(f"wrote {markdown}")
    return 0
