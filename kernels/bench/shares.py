"""Rates as shares of the machine's measured peak (kernels.support.peak): the one reading
of `environment.peak_gflops` that the targets, the roofline, --compare across machines and
the machines table share, and the readers of the targets set on it.

A pass's FLOPs are the direct convolution's: forward's multiply-adds, and the same count for
each backward pass (backward-data and backward-weights are the forward's multiply-adds over
other axes), whatever an algorithm actually performs (Winograd fewer, im2col the same).
"""

from __future__ import annotations

from .readers import NOT_MEASURED, _cases

PASSES = ("forward", "backward_data", "backward_weights")


def roofline_points(cases) -> list[tuple]:
    """(case, backend, FLOPs per byte, achieved GF/s) for every backend on every conv case
    that has both: the roofline's points (kernels.bench.charts) and the peak-share target's.
    GF/s is the case's forward + backward FLOPs over the backend's passes' medians summed
    (kernels.bench.columns)."""
    return [(c["name"], b, r["flops_per_byte"], r["gflops"])
            for c in cases if c["kind"] == "conv" for b, r in c["results"].items()
            if r.get("flops_per_byte") and r.get("gflops")]


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
    """The backend's highest achieved GF/s over the conv cases (its best roofline point)
    as a share of the machine's measured peak (environment.peak_gflops)."""
    def read(report):
        peak = measured_peak(report)
        if not peak:
            return None, "not measured: the report has no measured peak (made before the " \
                "probe existed)"
        mine = [p for p in roofline_points(_cases(report)) if p[1] == backend]
        if not mine:
            return NOT_MEASURED
        name, _, _, gflops = max(mine, key=lambda p: p[3])
        return gflops / peak, f"{name}: {gflops:.0f} of {peak:.0f} GF/s"
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
