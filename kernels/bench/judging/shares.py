"""Rates as shares of the machine's measured peak (kernels.support.peak): the one reading
of `environment.peak_gflops` that the targets, the roofline, --compare across machines and
the machines table share, and the readers of the targets set on it.

A pass's FLOPs are the direct convolution's: forward's multiply-adds, and the same count for
each backward pass (backward-data and backward-weights are the forward's multiply-adds over
other axes), whatever an algorithm actually performs (Winograd fewer, im2col the same).
"""

from __future__ import annotations

from typing import NamedTuple

from ...vocabulary import KEYS
from .readers import NOT_MEASURED, _cases

PASSES = KEYS  # the report's keys of the passes


class Point(NamedTuple):
    """One backend on one conv case, as the roofline draws it."""

    case: str
    backend: str
    intensity: float  # FLOPs per byte
    gflops: float
    library: bool = False  # a framework's or plug-in's (role LIBRARY)
    forward_only: bool = False  # a library that computes the forward pass alone: its rate


def _least_traffic_intensity(case) -> float | None:
    """FLOPs per byte of the least traffic (`bytes`), the same for the three passes together
    as for the forward alone (each pass moves x, w and y once and does the forward's
    multiply-adds): where a library's point goes, since its workspace is unseen (its
    allocator is not NumPy's), which makes this the highest intensity it can have."""
    flops, minimal = case.get("flops"), case.get("bytes")
    return None if not flops or not minimal else \
        (flops["forward"] + flops["backward"]) / minimal


def roofline_points(cases) -> list[Point]:
    """Every backend's point on every conv case that has one: the roofline's points
    (kernels.bench.output.charts) and the peak-share target's. GF/s is the case's forward +
    backward FLOPs over the backend's passes' medians summed (kernels.bench.judging.columns); a
    library's point (frameworks, plug-ins) sits at the least traffic's intensity, and one
    that computes only the forward pass is placed by its forward GF/s, marked so."""
    points = []
    for c in cases:
        if c["kind"] != "conv":
            continue
        for b, r in c["results"].items():
            library = bool(r.get("library")) or r.get("role") == "library"
            if r.get("flops_per_byte") and r.get("gflops"):
                points.append(Point(c["name"], b, r["flops_per_byte"], r["gflops"], library))
            elif library and (x := _least_traffic_intensity(c)):
                if r.get("gflops"):
                    points.append(Point(c["name"], b, x, r["gflops"], True))
                elif r.get("forward_gflops"):
                    points.append(Point(c["name"], b, x, r["forward_gflops"], True, True))
    return points


def best_point(report, backend) -> Point | None:
    """The backend's fastest forward + backward point over the conv cases the targets judge
    (a user's own cases are shown, never judged), or None: the point the roofline target and
    the roofline's share label both read."""
    mine = [p for p in roofline_points(_cases(report))
            if p.backend == backend and not p.forward_only]
    return max(mine, key=lambda p: p.gflops) if mine else None


def measured_peak(report) -> float | None:
    """The machine's measured FMA peak (GF/s) for the report's dtype, or None where the
    report has none (every report before the probe existed): `environment.peak_gflops`, else
    `environment.machine.peak.<dtype>.gflops`. A computed peak (`formula_peak_gflops`, or an
    old report's `vector_peak_gflops`) is never returned: it is no denominator."""
    env = report.get("environment") or {}
    value = env.get("peak_gflops")
    if value is None:
        dtype = env.get("dtype") or (report.get("settings") or {}).get("dtype") or "float32"
        machine = env.get("machine") if isinstance(env.get("machine"), dict) else {}
        peaks = machine.get("peak") if isinstance(machine.get("peak"), dict) else {}
        found = peaks.get(dtype)
        value = found.get("gflops") if isinstance(found, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None
    return float(value)


def best_share_of_peak(backend):
    """The backend's highest achieved GF/s over the conv cases (its best roofline point,
    forward + backward) as a share of the machine's measured peak (environment.peak_gflops);
    the roofline's share label is this reader's figure."""
    def read(report):
        peak = measured_peak(report)
        if not peak:
            return None, "not measured: the report has no measured peak (made before the " \
                "probe existed)"
        best = best_point(report, backend)
        if best is None:
            return NOT_MEASURED
        return best.gflops / peak, f"{best.case}: {best.gflops:.0f} of {peak:.0f} GF/s"
    return read


def _pass_flops(flops: dict, key: str) -> float:
    """A pass's direct-convolution FLOPs: the two backward passes do half of `backward` each
    (both are the forward's multiply-adds, over other axes)."""
    return flops["forward"] if key == "forward" else flops["backward"] / 2


def pass_share_of_peak(backend, case, key=None):
    """The backend's rate on one case as a share of the measured peak: over one pass (`key`,
    e.g. "forward"), or with key=None the least of its three passes' shares."""
    def read(report):
        peak = measured_peak(report)
        if not peak:
            return None, "not measured: the report has no measured peak"
        found = [c for c in _cases(report, kind="conv") if c["name"] == case]
        result = found[0]["results"].get(backend) if found else None
        keys = PASSES if key is None else (key,)
        if result is None or not found[0].get("flops") \
                or any(not result.get(k) for k in keys):
            return NOT_MEASURED
        shares = {k: _pass_flops(found[0]["flops"], k) / result[k]["median"] / 1e9 / peak
                  for k in keys}
        least = min(shares, key=shares.get)
        return shares[least], ", ".join(f"{k} {v * peak:.0f}" for k, v in shares.items()) + \
            f" GF/s of a {peak:.0f} GF/s peak"
    return read
