"""`python -m kernels bench --compare OLD.json NEW.json`: what changed between two reports,
per case, backend and pass, with a noise band taken from the samples' own spread.

A timing is a median of samples whose interquartile range says how noisy it was. The change
new/old counts as real only when it lies outside the band 1 +- (relative IQR of old + that of
new) and outside a floor of NOISE_FLOOR (the same code measured up to 25 % apart between runs
on the shared machines this was built on, as scikit-image found for cloud machines).
"""

from __future__ import annotations

import json
import sys

NOISE_FLOOR = 0.25
PASSES = ("forward", "backward_data", "backward_weights")


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


def _relative_spread(stats) -> float:
    return (stats["p75"] - stats["p25"]) / stats["median"] if stats["median"] > 0 else 0.0


def changes(old: dict, new: dict) -> list[dict]:
    """One row per (case, backend, pass) measured in both reports, and measured the same
    way (a row extrapolated by --quick is not compared with a measured one)."""
    before = {c["name"]: c for c in old["cases"]}
    rows = []
    for case in new["cases"]:
        if case["name"] not in before:
            continue
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
                                 ratio=ratio, band=band,
                                 verdict="slower" if ratio > 1 + band else
                                 "faster" if ratio < 1 / (1 + band) else "same"))
    return rows


def main(old_path, new_path) -> int:
    try:
        old, new = load(old_path), load(new_path)
    except CompareError as e:
        print(f"python -m kernels bench --compare: error: {e}", file=sys.stderr)
        return 2
    rows = changes(old, new)
    print(f"{old_path} ({old['environment']['date'][:10]}) -> {new_path} "
          f"({new['environment']['date'][:10]}): new/old time per case, backend and pass; "
          f"'same' within the noise band (the samples' spread, at least "
          f"{NOISE_FLOOR:.0%})")
    width = max([len(r["case"]) for r in rows] + [4])
    for r in rows:
        print(f"  {r['case']:{width}}  {r['backend']:12} {r['step']:17} "
              f"{r['old_ms']:9.3f} -> {r['new_ms']:9.3f} ms  {r['ratio']:6.2f}x  "
              f"(band ±{r['band']:.0%})  {r['verdict']}")
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("faster", "slower", "same")}
    print(f"{len(rows)} timings compared: {counts['faster']} faster, {counts['slower']} "
          f"slower, {counts['same']} within the noise")
    return 0
