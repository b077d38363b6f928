"""`python -m kernels bench --compare OLD.json NEW.json`: what changed between two reports,
per case, backend and pass, with a noise band taken from the samples' own spread.

A timing is a median of samples whose interquartile range says how noisy it was. The change
new/old counts as real only when it lies outside the band 1 +- (relative IQR of old + that of
new) and outside a floor of NOISE_FLOOR (the same code measured up to 25 % apart between runs
on the shared machines this was built on, as scikit-image found for cloud machines).

Two reports are comparable only when they were measured alike: the same report schema, CPU,
core count, thread count, dtype, batch and both --quick or both not (MUST_MATCH). The header
states every difference of their settings; a difference in MUST_MATCH is refused unless
--force is given. A verdict on a case measured while either machine was busy
(kernels.bench.load) is marked "(busy)". Comparing two reports with nothing in common is an
error, not "0 timings compared".
"""

from __future__ import annotations

import json

from ..support.command_line import fail
from .columns import count

NOISE_FLOOR = 0.25
PASSES = ("forward", "backward_data", "backward_weights")
MUST_MATCH = ("schema", "cpu", "cores", "threads", "dtype", "batch", "quick")
STATED = MUST_MATCH + ("repeats", "sections")
PROG = "python -m kernels bench --compare"


class CompareError(Exception):
    """An input report is unreadable or is not a report: one line for the user."""


def load(path) -> dict:
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as e:
        raise CompareError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise CompareError(f"{path} is not JSON ({e})") from None
    if not isinstance(report, dict) or not isinstance(report.get("cases"), list):
        raise CompareError(f"{path} is not a report of python -m kernels bench --json")
    return report


def settings(report) -> dict:
    """The report's `settings`; for a schema-1 report (none recorded) what its environment
    tells, the rest None."""
    if isinstance(report.get("settings"), dict):
        return report["settings"]
    env = report.get("environment", {})
    return dict(schema=1, cpu=env.get("cpu"), cores=env.get("cores"),
                threads=env.get("threads"), dtype=env.get("dtype"), batch=None,
                quick="--quick" in env.get("command", "").split(), repeats=None,
                sections=None)


def differences(old, new) -> list[tuple[str, object, object]]:
    """(key, old value, new value) for every stated setting that differs."""
    a, b = settings(old), settings(new)
    return [(k, a.get(k), b.get(k)) for k in STATED if a.get(k) != b.get(k)]


def _relative_spread(stats) -> float:
    return (stats["p75"] - stats["p25"]) / stats["median"] if stats["median"] > 0 else 0.0


def _busy(report, kind) -> bool:
    return bool((report.get("sections") or {}).get(kind, {}).get("busy"))


def changes(old: dict, new: dict) -> list[dict]:
    """One row per (case, backend, pass) measured in both reports, and measured the same
    way (a row extrapolated by --quick is not compared with a measured one)."""
    before = {c["name"]: c for c in old["cases"]}
    rows = []
    for case in new["cases"]:
        if case["name"] not in before:
            continue
        busy = _busy(old, case.get("kind")) or _busy(new, case.get("kind"))
        for backend, result in case["results"].items():
            previous = before[case["name"]]["results"].get(backend)
            if previous is not None and previous.get("note") != result.get("note"):
                continue  # measured differently (e.g. extrapolated from 4 images): no ratio
            for name in PASSES:
                if previous is None or name not in result or name not in previous:
                    continue
                a, b = previous[name], result[name]
                band = max(NOISE_FLOOR, _relative_spread(a) + _relative_spread(b))
                ratio = b["median"] / a["median"]
                rows.append(dict(case=case["name"], backend=backend, step=name,
                                 old_ms=a["median"] * 1e3, new_ms=b["median"] * 1e3,
                                 ratio=ratio, band=band, busy=busy,
                                 verdict="slower" if ratio > 1 + band else
                                 "faster" if ratio < 1 / (1 + band) else "same"))
    return rows


def main(old_path, new_path, force=False) -> int:
    try:
        old, new = load(old_path), load(new_path)
    except CompareError as e:
        return fail(PROG, e)
    differ = differences(old, new)
    if not force and (refused := [d for d in differ if d[0] in MUST_MATCH]):
        return fail(PROG, "the reports were not measured alike (" + "; ".join(
            f"{k}: {a} -> {b}" for k, a, b in refused) + "); --force compares them anyway")
    rows = changes(old, new)
    if not rows:
        return fail(PROG, f"nothing to compare: no case, backend and pass of {new_path} "
                          f"was measured the same way in {old_path}")
    date = lambda r: r.get("environment", {}).get("date", "?")[:10]  # noqa: E731
    print(f"{old_path} ({date(old)}) -> {new_path} ({date(new)}): new/old time per case, "
          f"backend and pass; 'same' within the noise band (the samples' spread, at least "
          f"{NOISE_FLOOR:.0%})")
    print("settings: " + ("; ".join(f"{k}: {a} -> {b}" for k, a, b in differ) + " (--force)"
                          if differ else f"alike (schema {settings(new)['schema']})"))
    width = max([len(r["case"]) for r in rows] + [4])
    for r in rows:
        print(f"  {r['case']:{width}}  {r['backend']:12} {r['step']:17} "
              f"{r['old_ms']:9.3f} -> {r['new_ms']:9.3f} ms  {r['ratio']:6.2f}x  "
              f"(band ±{r['band']:.0%})  {r['verdict']}" + (" (busy)" if r["busy"] else ""))
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("faster", "slower", "same")}
    busy = sum(r["busy"] for r in rows)
    print(f"{count(len(rows), 'timing')} compared: {counts['faster']} faster, "
          f"{counts['slower']} slower, {counts['same']} within the noise" +
          (f"; {busy} measured while a machine was busy" if busy else ""))
    return 0
