"""Reports of different machines, side by side: the figures and the one table of `python -m
kernels bench --machines A.json B.json ...` (kernels.bench.side_by_side prints it, and
with `--markdown PATH` writes it), a row per case and, per machine, the winner among our
algorithms, its share of that machine's measured peak and its time over the fastest
framework's on that machine.

Milliseconds measured on two machines say which machine is faster, not which code is: a
2-core VM of one CPU and a workstation of another differ by more than any change of ours.
So a figure of one machine is only ever set against a figure of the same machine:

- its share of the machine's *measured* peak (`environment.peak_gflops`, or
  `environment.machine.peak.<dtype>.gflops`, written by reports since the machine
  fingerprint). A report without one (older reports) says "n/a: no measured peak": the
  assumed `vector_peak_gflops` (2 FMA pipes of 256 bits at the listed clock) is not
  measured, and is 2x off on a CPU with two 512-bit FMA units, so it is not used here;
- its time over the fastest framework's (kernels.plugins.FRAMEWORKS: PyTorch, JAX,
  TensorFlow, ONNX Runtime, whichever the report timed on all three passes) on the same machine, in the same
  alternated turns.

`kernels.bench.judging.compare` uses the same figures when its two reports come from different
machines.
"""

from __future__ import annotations

from ...plugins import FRAMEWORKS
from .shares import measured_peak

NO_PEAK = "n/a: no measured peak"


def machine_id(report) -> str | None:
    """`environment.machine.id`, the fingerprint of the machine, where the report has one."""
    machine = (report.get("environment") or {}).get("machine")
    return machine.get("id") if isinstance(machine, dict) and machine.get("id") else None


def machine_name(report) -> str:
    """The CPU and its cores, as the report names them."""
    env = report.get("environment") or {}
    machine = env.get("machine") if isinstance(env.get("machine"), dict) else {}
    model = " ".join(str(machine[k]) for k in ("vendor", "model") if machine.get(k)) \
        or env.get("cpu") or "unknown CPU"
    cores = machine.get("cores") or env.get("cores")
    return f"{model}, {cores} cores" if cores else model


def machine_key(report) -> tuple:
    """The CPU model and core count: what tells two machines apart where a report has no
    fingerprint."""
    env = report.get("environment") or {}
    settings = report.get("settings") or {}
    return (settings.get("cpu", env.get("cpu")), settings.get("cores", env.get("cores")))


def same_machine(a, b) -> bool:
    """Whether two reports were measured on one machine: the same `environment.machine.id`
    where both have one, else the same CPU model and core count (as far as both say: a
    report that does not name its CPU is not taken for another machine's)."""
    ids = machine_id(a), machine_id(b)
    if None not in ids:
        return ids[0] == ids[1]
    return all(x == y for x, y in zip(machine_key(a), machine_key(b))
               if x is not None and y is not None)


def fastest_framework(case) -> tuple[str, float] | None:
    """(name, seconds of its three passes) of the fastest framework timed on the case, or
    None: a framework that does not compute every pass (onnxruntime) has no total."""
    timed = {b: r["total_seconds"] for b, r in case.get("results", {}).items()
             if b in FRAMEWORKS and isinstance(r.get("total_seconds"), (int, float))}
    if not timed:
        return None
    best = min(timed, key=timed.get)
    return best, timed[best]


def ours(case) -> dict:
    """Our algorithms' results on the case: not a library, not the reference, not the
    dispatcher (auto runs one of them), with a time for all three passes."""
    return {b: r for b, r in case.get("results", {}).items()
            if not r.get("library") and b not in FRAMEWORKS
            and r.get("role", "algorithm") == "algorithm"
            and isinstance(r.get("total_seconds"), (int, float))}


def winner(case) -> str | None:
    candidates = ours(case)
    return min(candidates, key=lambda b: candidates[b]["total_seconds"]) if candidates else None


def figures(report, case, backend) -> dict:
    """One backend's figures on one case, each relative to its own machine: `peak_share`
    (GF/s of the three passes over the measured peak; None without a peak or FLOPs),
    `peak_text`, `framework` (the fastest one's name), `vs_framework` (this total over
    its total) and `framework_text`."""
    result = case["results"][backend]
    peak = measured_peak(report)
    flops = case.get("flops")
    total = result.get("total_seconds")
    gflops = (flops["forward"] + flops["backward"]) / total / 1e9 \
        if flops and isinstance(total, (int, float)) and total > 0 else None
    share = gflops / peak if peak is not None and gflops is not None else None
    peak_text = NO_PEAK if peak is None else "n/a: no FLOPs" if gflops is None else \
        f"{share:.0%} of peak"
    fastest = fastest_framework(case)
    vs = total / fastest[1] if fastest and isinstance(total, (int, float)) else None
    framework_text = "n/a: no framework timed" if fastest is None else \
        "n/a: not every pass" if vs is None else f"{vs:.2f}x {fastest[0]}"
    return dict(peak_share=share, peak_text=peak_text,
                framework=fastest[0] if fastest else None, vs_framework=vs,
                framework_text=framework_text)


def table(reports: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: a row per case (in the order the reports first list them), per
    machine its winner among ours, the winner's share of that machine's measured peak and
    its time over that machine's fastest framework."""
    names = []
    for report in reports.values():
        names += [c["name"] for c in report["cases"] if c["name"] not in names]
    headers = ["case"]
    for label in reports:
        headers += [f"{label}: our fastest", "share of peak", "x fastest framework"]
    rows = []
    for name in names:
        row = [name]
        for report in reports.values():
            case = next((c for c in report["cases"] if c["name"] == name), None)
            best = winner(case) if case else None
            if best is None:
                row += ["not in the report" if case is None else "none of ours", "-", "-"]
                continue
            f = figures(report, case, best)
            row += [best, f["peak_text"], f["framework_text"]]
        rows.append(row)
    return headers, rows
