"""The verify command's view of a conformance run: a pytest plugin that collects each test's
outcome and notes, and the result it builds (a dict, the --json document) and prints.

A test is counted once, by its worst phase: failed (an error in setup counts too), out of
declared range or not computed (skipped with those reasons, see `checks`), skipped for
another reason (an oracle that is not installed), or passed. Per failing test function the
smallest failing configuration is kept (the one with the fewest input elements; for a
Hypothesis test the shrunk example), with a one-line command that reruns it. The house
conventions a backend not held to them did not follow (`conventions`) are listed apart, with
the helper that meets each: they never fail a test.
"""

from __future__ import annotations

import math
import shlex
from collections import Counter

from kernels.conformance import CATEGORIES
from kernels.conformance.checks import NOT_COMPUTED, OUT_OF_RANGE
from kernels.support.tables import aligned
from kernels.vocabulary import NAMES

COLUMNS = ("passed", "failed", "out_of_range", "not_computed", "skipped")
HEADINGS = ("passed", "failed", "out of range", "not computed", "skipped")
PASS_ORDER = NAMES  # the keys of worst_error_units, in computing order
SHOWN_REASONS = 12


class Collector:
    """pytest plugin: one row per test item, filled from its reports."""

    def __init__(self):
        self.items: dict[str, dict] = {}
        self.collection_errors: list[str] = []

    def pytest_collection_modifyitems(self, items):
        for item in items:
            callspec = getattr(item, "callspec", None)
            self.items[item.nodeid] = dict(
                category=getattr(item.module, "CATEGORY", "other"),
                test=getattr(item, "originalname", item.name),
                case=_case_id(callspec), node=f"{item.path}::{item.name}",
                outcome=None, reason=None, properties={})

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {_last_line(report)}")

    def pytest_runtest_logreport(self, report):
        row = self.items.get(report.nodeid)
        if row is None:
            return
        row["properties"].update(dict(report.user_properties))
        if report.failed:
            row["outcome"] = "failed"
            row["properties"].setdefault("message", _last_line(report))
        elif report.skipped and row["outcome"] != "failed":
            reason = _skip_reason(report)
            row["outcome"] = ("out_of_range" if reason.startswith(OUT_OF_RANGE) else
                              "not_computed" if reason.startswith(NOT_COMPUTED) else "skipped")
            row["reason"] = reason
        elif report.when == "call" and row["outcome"] is None:
            row["outcome"] = "passed"


def _case_id(callspec) -> str:
    if callspec is None:
        return ""
    parts = callspec.id.split("-")
    names = set(callspec.params) & {"backend", "candidate"}
    chosen = {str(callspec.params[n]) for n in names}
    return "-".join(p for p in parts if p not in chosen)


def _last_line(report) -> str:
    text = str(getattr(report, "longreprtext", "") or report.longrepr or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def build(collector, *, name, info, quick, command) -> dict:
    """The result document: counts per category, failures, reasons, worst errors."""
    counts = {c: Counter() for c in CATEGORIES}
    out_of_range, skipped, worst, off_zero = Counter(), Counter(), {}, set()
    failing: dict[tuple, list] = {}
    conventions: dict[tuple, dict] = {}
    for row in collector.items.values():
        if row["outcome"] is None:
            continue  # deselected, or never ran
        counts.setdefault(row["category"], Counter())[row["outcome"]] += 1
        props = row["properties"]
        for reason in props.get("out_of_range") or []:
            out_of_range[reason] += 1
        if row["outcome"] == "out_of_range" and not props.get("out_of_range"):
            out_of_range[row["reason"].removeprefix(OUT_OF_RANGE)] += 1
        if row["outcome"] == "skipped":
            skipped[f"{row['reason']} ({row['category']})"] += 1
        off_zero.update(props.get("nonzero_where_exact_is_zero") or ())
        for pass_name, units in (props.get("worst_error_units") or {}).items():
            current = worst.get(pass_name, -1.0)
            if current == current and (units != units or units > current):  # NaN sticks
                worst[pass_name] = units
        if row["outcome"] == "failed":
            failing.setdefault((row["category"], row["test"]), []).append(row)
        for finding in props.get("conventions") or []:
            entry = conventions.setdefault((finding["convention"], finding["helper"]), dict(
                convention=finding["convention"], helper=finding["helper"], tests=0,
                example=f"{row['category']} / {row['test']}"
                        + (f"[{row['case']}]" if row["case"] else "")
                        + f": {finding['detail']}"))
            entry["tests"] += 1
    failures = []
    for (category, test), rows in failing.items():
        smallest = min(rows, key=lambda r: r["properties"].get("size") or math.inf)
        props = smallest["properties"]
        failures.append(dict(
            category=category, test=test, failing_cases=len(rows),
            configuration=props.get("example") or smallest["case"] or test,
            message=props.get("message", ""),
            reproduce=" ".join([*command, shlex.quote(smallest["node"])])))
    failures.sort(key=lambda f: CATEGORIES.index(f["category"])
                  if f["category"] in CATEGORIES else len(CATEGORIES))
    for error in collector.collection_errors:
        failures.append(dict(category="collection", test=error, failing_cases=1,
                             configuration="", message=error, reproduce=""))
    rows = [dict(category=c, **{k: counts[c][k] for k in COLUMNS}) for c in counts
            if sum(counts[c].values())]
    totals = {k: sum(r[k] for r in rows) for k in COLUMNS}
    return dict(backend=name, **info, quick=quick, categories=rows, totals=totals,
                failures=failures,
                out_of_range=[dict(reason=r, tests=n) for r, n in out_of_range.most_common()],
                skipped=[dict(reason=r, tests=n) for r, n in skipped.most_common()],
                worst_error_units={p: _strict(v) for p, v in
                                   sorted(worst.items(), key=lambda kv: PASS_ORDER.index(kv[0]))},
                nonzero_where_exact_is_zero=[p for p in PASS_ORDER if p in off_zero],
                conventions=sorted(conventions.values(), key=lambda c: -c["tests"]),
                ok=not failures and totals["failed"] == 0)


def _strict(units: float):
    """An error in units for strict JSON: a number, or "nan" (a NaN where the reference is a
    number) or "inf" (a non-finite value where it is finite), as the bench report writes
    non-finite numbers. A finite wrong value where the exact one is 0 with no nonzero term
    (no unit to measure it by) is not counted here but in nonzero_where_exact_is_zero."""
    return units if math.isfinite(units) else "nan" if units != units else "inf"


def render(result) -> str:
    """The table and the lists under it, as printed by `python -m kernels verify`."""
    info = result
    lines = [f"verify {info['backend']}: {info['role']}, {info['origin']}; computes "
             f"{', '.join(info['passes'])}" + ("  (--quick)" if info["quick"] else ""), ""]
    if info.get("machine"):
        from kernels.support.machine import one_line
        lines.insert(1, f"on {one_line(info['machine'])}")
    counts = [[row["category"], *(str(row[k]) for k in COLUMNS)]
              for row in info["categories"] + [dict(category="total", **info["totals"])]]
    lines += aligned(("category", *HEADINGS), counts, align="lr",
                     min_width=(0, *[12] * len(COLUMNS))).split("\n")
    units = info["worst_error_units"]
    if units:
        lines += ["", "worst error per pass, in units of eps(dtype) * sum|terms|: " + ", ".join(
            f"{p} {_number(v)}" + (" (and nonzero where the exact value is 0)"
                                   if p in info.get("nonzero_where_exact_is_zero", ()) else "")
            for p, v in units.items())]
    if info["not_computed"]:
        lines += ["", f"not computed (not in the backend's PASSES): "
                      f"{', '.join(info['not_computed'])}"]
    for title, entries in (("out of declared range", info["out_of_range"]),
                           ("skipped", info["skipped"])):
        if entries:
            lines += ["", f"{title} (tests):"]
            lines += [f"  {e['tests']:>4}  {e['reason']}" for e in entries[:SHOWN_REASONS]]
            if len(entries) > SHOWN_REASONS:
                lines.append(f"        ... and {len(entries) - SHOWN_REASONS} more reasons")
    if info.get("conventions"):
        lines += ["", "house conventions not followed (convbench's own backends must follow "
                      "them; a plug-in passes without them, docs/plugins.md):"]
        for c in info["conventions"]:
            lines.append(f"  {c['tests']:>4}  convention: {c['convention']} - {c['helper']} "
                         f"meets it")
            lines.append(f"        e.g. {c['example']}")
    if info["failures"]:
        lines += ["", "failed:"]
        for f in info["failures"]:
            lines.append(f"  {f['category']} / {f['test']}: {f['failing_cases']} failing; "
                         f"smallest: {f['configuration']}")
            lines.append(f"      {f['message']}")
            if f["reproduce"]:
                lines.append(f"      reproduce: {f['reproduce']}")
    verdict = "PASSED" if info["ok"] else f"FAILED ({info['totals']['failed']} tests)"
    if info.get("conventions"):
        count = len(info["conventions"])
        verdict += f"; {count} house convention{'s' if count > 1 else ''} not followed (listed " \
                   f"above, not failures)"
    lines += ["", f"verify {info['backend']}: {verdict}"]
    return "\n".join(lines)


def _number(value) -> str:
    """An error in units as printed: a number (a finite wrong value is one, however large),
    or what "inf" / "nan" stand for."""
    if value == "inf":
        return "inf (a non-finite value where the reference is a number)"
    if value == "nan" or value is None:
        return "NaN (a NaN where the reference is a number)"
    return f"{value:.3g}"
