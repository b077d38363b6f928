"""`python -m kernels bench --compare OLD.json NEW.json`: what changed between two reports,
per case, backend and pass, and whether it is a regression: a gate CI can trust.

The judgement (same machine). A timing is a list of samples (per-call seconds; reports keep
them since issue 22). A change new/old (the ratio of the medians) counts only when both

- it is significant: a two-sided Mann-Whitney U test of the two sample lists (SciPy's, as
  asv compares runs) gives a p-value below --alpha after Holm's correction over every test
  of the comparison, and
- it is large: the ratio is beyond --threshold (default 1.10: 10 % slower) or below its
  inverse.

Why both: the samples of one run are not independent draws - a burst of load, a frequency
step or a different memory layout shifts a whole block of them - so with many samples a
U test finds "significant" differences of a few percent between two runs of the same code.
The threshold is the effect that matters; the test keeps noise of that size from passing for
one. Rank-based, the U test assumes no distribution of the times (they are skewed, with a
long tail of preempted samples) and is blind to the outliers' size.

Why two-sided: one test per row judges both directions, so the faster rows are verdicts of
the same family, and a one-sided test for slowdowns would be a second, different family for
the speed-ups. (For a slowdown, two-sided at alpha is one-sided at alpha / 2: slightly
stricter.)

Why Holm, alpha 0.01: a full report compares ~1,500 timings (49 cases x 10 backends x 3
passes). At a fixed alpha of 0.05 per test, ~75 of them would be "significant" by chance
alone. Holm's step-down correction keeps the chance of any false significant row in the whole
comparison (the family-wise error) below alpha, needs no independence between the tests,
and is uniformly more powerful than Bonferroni. At alpha 0.01 and 1,500 tests the first step
needs p < 7e-6, which 15 samples a side can reach (the smallest two-sided p of 15 vs 15 is
1.3e-8) but 5 (--quick) cannot: the output says so when no row could ever be significant
(use more --repeats). Alpha is only the test's half of the gate; the threshold is the other.

Rows without samples on either side (a report before issue 22, the naive reference's single
timed call) fall back to the older rule and say so: the change counts only outside the band
1 +- (relative IQR of old + that of new), never narrower than NOISE_FLOOR (the same code
measured up to 25 % apart between runs on the shared machines this was built on, as
scikit-image found for cloud machines), and beyond the threshold.

Exit status: 1 when any timing of ours is significantly slower beyond the threshold (a
regression), 0 when none is, 2 on a usage error. A library's row (PyTorch, a plug-in) gets
its verdict but does not fail the gate: it is not our code, and a framework slower too on
the same machine says the machine changed. The geometric mean of new/old is printed per
backend and overall. A verdict on a case measured while either machine was busy
(kernels.bench.measuring.load) is marked "(busy)"; it still counts, since a gate that looked away
whenever the machine was loaded would pass anything on a loaded CI runner.

Two reports are compared with verdicts only when they were measured alike: the same report
schema, thread count, dtype, batch and both --quick or both not (MUST_MATCH); a difference
is refused unless --force. The header states every difference of their settings.

Two machines (a different `environment.machine.id` where both reports have one, else a
different CPU or core count): milliseconds of two machines compare the machines, not the
code, so no ratio new/old is formed and no verdict given (exit 0, stated). Each backend's
figure is given per machine as a share of that machine's measured peak and as x the fastest
framework on that machine (kernels.bench.judging.machines).
"""

from __future__ import annotations

from ...support.command_line import fail
from ...vocabulary import KEYS
from .columns import count
from . import machines
from .report_file import CompareError, load
from .significance import geometric_mean, holm, mann_whitney, smallest_p

NOISE_FLOOR = 0.25
THRESHOLD = 1.10
ALPHA = 0.01
PASSES = KEYS  # the report's keys of the passes compared
MUST_MATCH = ("schema", "threads", "dtype", "batch", "quick")
STATED = ("schema", "cpu", "cores", "threads", "dtype", "batch", "quick", "repeats", "sections")
PROG = "python -m kernels bench --compare"


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


def _samples(stats):
    """The timing's samples, or None where there are none to test (a report before issue
    22) or only one (a single timed call: no spread to test against)."""
    samples = stats.get("samples")
    return samples if isinstance(samples, list) and len(samples) >= 2 else None


def _relative_spread(stats) -> float:
    return (stats["p75"] - stats["p25"]) / stats["median"] if stats["median"] > 0 else 0.0


def _busy(report, kind) -> bool:
    return bool((report.get("sections") or {}).get(kind, {}).get("busy"))


def changes(old: dict, new: dict, threshold=THRESHOLD, alpha=ALPHA) -> list[dict]:
    """One row per (case, backend, pass) measured in both reports, and measured the same
    way (a row extrapolated by --quick is not compared with a measured one), with its
    verdict: `method` "mann-whitney" (`p`, `p_holm`) where both sides kept samples, else
    "band" (`band`)."""
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
                row = dict(case=case["name"], backend=backend, step=name,
                           old_ms=a["median"] * 1e3, new_ms=b["median"] * 1e3,
                           ratio=b["median"] / a["median"], busy=busy,
                           library=bool(result.get("library")))
                if _samples(a) and _samples(b):
                    row.update(method="mann-whitney", p=mann_whitney(a["samples"], b["samples"]),
                               n=(len(a["samples"]), len(b["samples"])))
                else:
                    row.update(method="band", band=max(
                        NOISE_FLOOR, _relative_spread(a) + _relative_spread(b)))
                rows.append(row)
    tested = [r for r in rows if r["method"] == "mann-whitney"]
    for row, adjusted in zip(tested, holm([r["p"] for r in tested])):
        row["p_holm"] = adjusted
    for row in rows:
        if row["method"] == "mann-whitney":
            real = row["p_holm"] < alpha
            slower, faster = threshold, 1 / threshold
        else:
            real = True
            slower = max(threshold, 1 + row["band"])
            faster = 1 / slower
        row["verdict"] = "slower" if real and row["ratio"] > slower else \
            "faster" if real and row["ratio"] < faster else "same"
    return rows


def _judgement(r) -> str:
    if r["method"] == "mann-whitney":
        return f"p {r['p_holm']:.1e} (Holm)"
    return f"band ±{r['band']:.0%}, no samples"


# ------------------------------------------------------------------ two machines

def across(old, new) -> list[dict]:
    """Per case and backend in both reports: each machine's own figures (a share of its
    measured peak, x its fastest framework), never a ratio of their times."""
    before = {c["name"]: c for c in old["cases"]}
    rows = []
    for case in new["cases"]:
        if (previous := before.get(case["name"])) is None:
            continue
        for backend in case["results"]:
            if backend not in previous["results"]:
                continue
            rows.append(dict(case=case["name"], backend=backend,
                             old=machines.figures(old, previous, backend),
                             new=machines.figures(new, case, backend)))
    return rows


def _across_machines(old_path, new_path, old, new) -> int:
    rows = across(old, new)
    if not rows:
        return fail(PROG, f"nothing to compare: no case and backend of {new_path} is in "
                          f"{old_path}")
    print(f"{old_path} ({machines.machine_name(old)}) -> {new_path} "
          f"({machines.machine_name(new)}): different machines, so no time is set against "
          "the other machine's and no regression verdict is given (exit 0); each figure is "
          "relative to its own machine: a share of its measured peak, x its fastest "
          "framework")
    differ = differences(old, new)
    print("settings: " + ("; ".join(f"{k}: {a} -> {b}" for k, a, b in differ) or "alike"))
    for path, report in ((old_path, old), (new_path, new)):
        peak = machines.measured_peak(report)
        print(f"  {path}: " + (f"measured peak {peak:.1f} GF/s" if peak else
                               "no measured peak (a report before the machine fingerprint)"))
    width = max([len(r["case"]) for r in rows] + [4])
    for r in rows:
        print(f"  {r['case']:{width}}  {r['backend']:12} "
              f"{r['old']['peak_text']:>22}, {r['old']['framework_text']:<24} -> "
              f"{r['new']['peak_text']:>22}, {r['new']['framework_text']}")
    print(f"{count(len(rows), 'backend result')} of the cases both ran set side by side; "
          "no verdict across machines")
    return 0


# ------------------------------------------------------------------ the command

def main(old_path, new_path, force=False, threshold=THRESHOLD, alpha=ALPHA) -> int:
    try:
        old, new = load(old_path), load(new_path)
    except CompareError as e:
        return fail(PROG, e)
    if not machines.same_machine(old, new):
        return _across_machines(old_path, new_path, old, new)
    differ = differences(old, new)
    if not force and (refused := [d for d in differ if d[0] in MUST_MATCH]):
        return fail(PROG, "the reports were not measured alike (" + "; ".join(
            f"{k}: {a} -> {b}" for k, a, b in refused) + "); --force compares them anyway")
    rows = changes(old, new, threshold, alpha)
    if not rows:
        return fail(PROG, f"nothing to compare: no case, backend and pass of {new_path} "
                          f"was measured the same way in {old_path}")
    tested = [r for r in rows if r["method"] == "mann-whitney"]
    date = lambda r: r.get("environment", {}).get("date", "?")[:10]  # noqa: E731
    print(f"{old_path} ({date(old)}) -> {new_path} ({date(new)}): new/old median time per "
          f"case, backend and pass; slower or faster only when a two-sided Mann-Whitney U "
          f"test of the samples gives p < {alpha:g} after Holm's correction over the "
          f"{count(len(tested), 'test')} and the change is beyond {threshold:.2f}x")
    print("settings: " + ("; ".join(f"{k}: {a} -> {b}" for k, a, b in differ) +
                          (" (--force)" if force else "")
                          if differ else f"alike (schema {settings(new)['schema']})"))
    if len(tested) < len(rows):
        print(f"{count(len(rows) - len(tested), 'timing')} without samples on one side (a "
              f"report before issue 22, or a single timed call): judged by the noise band "
              f"instead (the samples' spread, at least {NOISE_FLOOR:.0%})")
    if tested and min(smallest_p(*r["n"]) for r in tested) >= alpha / len(tested):
        n = min(min(r["n"]) for r in tested)
        print(f"warning: with {n} samples a side no change can be significant at alpha "
              f"{alpha:g} over {len(tested)} tests: measure with more --repeats (15 can)")
    width = max([len(r["case"]) for r in rows] + [4])
    for r in rows:
        print(f"  {r['case']:{width}}  {r['backend']:12} {r['step']:17} "
              f"{r['old_ms']:9.3f} -> {r['new_ms']:9.3f} ms  {r['ratio']:6.2f}x  "
              f"({_judgement(r)})  {r['verdict']}" + (" (busy)" if r["busy"] else ""))
    by_backend = {}
    for r in rows:
        by_backend.setdefault(r["backend"], []).append(r["ratio"])
    print("geometric mean of new/old: " + ", ".join(
        f"{b} {geometric_mean(v):.3f}x" for b, v in by_backend.items()) +
        f"; all {geometric_mean([r['ratio'] for r in rows]):.3f}x")
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("faster", "slower", "same")}
    busy = sum(r["busy"] for r in rows)
    theirs = sum(r["verdict"] == "slower" and r["library"] for r in rows)
    print(f"{count(len(rows), 'timing')} compared: {counts['faster']} faster, "
          f"{counts['slower']} slower, {counts['same']} same" +
          (f"; {busy} measured while a machine was busy" if busy else ""))
    if theirs:  # not our code: a framework slower on the same machine points at the machine
        print(f"{count(theirs, 'slower timing')} of libraries (not our code, not counted; "
              "a library slower too suggests the machine changed, not the code)")
    if regressions := counts["slower"] - theirs:
        loaded = sum(r["verdict"] == "slower" and r["busy"] and not r["library"]
                     for r in rows)
        print(f"regression: {count(regressions, 'timing')} of ours slower beyond "
              f"{threshold:.2f}x (exit 1)" + (
                  "; every one measured while a machine was busy: confirm on a quiet one"
                  if loaded == regressions else ""))
        return 1
    print(f"no significant slowdown of ours beyond {threshold:.2f}x (exit 0)")
    return 0
