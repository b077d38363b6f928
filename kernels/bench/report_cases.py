"""The report's layer cases (`conv`, `pool`): every selected backend on each case, PyTorch's
`torch` among the libraries, the passes taking turns; the columns derived from the timings;
the workspace cap of the backends that chunk their batch; the GEMM rate measured again after
the cases. kernels.bench.report runs the request and calls `measure`."""

from __future__ import annotations

import numpy as np

from .. import LIBRARY, REFERENCE, capabilities, role
from ..cases import practical
from .judging import columns, targets
from .measuring import instruments, layers, libraries
from .output import render


def measure(report, plan, clock, dtype) -> None:
    """The layer cases the plan selects, the workspace cap, the GEMM rate again and the
    libraries' summary, into `report`, each table printed as soon as it is measured."""
    for case in plan.cases:
        if case.kind in plan.sections:
            with clock.section(case.kind):
                entry = _measure_case(case, plan, dtype)
            libraries.mark(entry)
            columns.derive(entry, report["gemm"][plan.dtype]["gflops"])
            report["cases"].append(entry)
            render.print_case(entry)

    if "conv" in plan.sections:  # backends that chunk their work under a workspace cap
        capped = [b for b in plan.backends if capabilities(b).max_workspace_bytes is not None]
        chosen = {c.name: c for c in plan.cases if c.name in targets.WORKSPACE_CAP_CASES}
        with clock.section("conv"):
            report["workspace_cap"] = [
                layers.workspace_cap_case(chosen[n], b, dtype, plan.repeats)
                for b in capped for n in targets.WORKSPACE_CAP_CASES if n in chosen
                and capabilities(b).unsupported(chosen[n].geometry()) is None]
    if report["cases"]:
        _bracket_gemm(report, plan, clock)

    report["libraries_vs_ours"] = libraries.summary(report)
    render.print_libraries_summary(report["libraries_vs_ours"])


def _bracket_gemm(report, plan, clock):
    """The GEMM rate measured again after the layer cases, the cases' `% GEMM` re-derived
    from the higher of the two rates: a rate measured once, at a quiet or busy moment, made
    shares above 100 % (or flattered every backend)."""
    with clock.section("machine"):
        after = instruments.gemm_peak(np.dtype(plan.dtype).type, plan.repeats)
    rate = report["gemm"][plan.dtype]
    rate["after_gflops"] = after["gflops"]
    rate["bracket_gflops"] = max(rate["gflops"], after["gflops"])
    for entry in report["cases"]:
        columns.derive(entry, rate["bracket_gflops"])
    print(f"GEMM rate after the layer cases: {after['gflops']:.1f} GF/s (before: "
          f"{rate['gflops']:.1f}); % GEMM in the files uses the higher, "
          f"{rate['bracket_gflops']:.1f}\n", flush=True)


def skipped(case, backends) -> dict:
    """{backend: why it is not timed on this case} for those of `backends` that are not:
    the reference where it takes minutes, a backend that borrows another's pooling on a
    pool case, one whose `unsupported` refuses the conv geometry."""
    reasons = {}
    for name in backends:
        can = capabilities(name)
        if not practical(case, name):
            reasons[name] = "the reference takes minutes on this case: timed on small ones"
        elif case.kind == "pool" and can.borrows_pooling:
            reasons[name] = f"pools with {can.pooling_from}'s kernels: see that row"
        elif case.kind == "conv" and (reason := can.unsupported(case.geometry())):
            reasons[name] = reason
    return reasons


def _measure_case(case, plan, dtype):
    """Every selected backend (PyTorch's among them) on one case: timings of each pass, and
    for a convolution the FLOPs, the least bytes any algorithm moves and each one's error."""
    entry = dict(name=case.name, kind=case.kind, set=case.set, description=case.describe(),
                 source=case.source, batch=case.N, results={})
    # The backends that do not compute the case are recorded with their reasons, shown
    # in every table, not dropped.
    entry["unsupported"] = skipped(case, plan.backends)
    backends = [b for b in plan.backends if b not in entry["unsupported"]]
    prepared = {b: layers.prepare(case, b, dtype, plan.quick) for b in backends}
    timings = {b: {name: instruments.measure_once(fn) for name, fn in p["passes"].items()}
               for b, p in prepared.items() if role(b) == REFERENCE}
    # The others take turns, PyTorch included, so the ratios between them are not at the
    # mercy of when a burst of load hit the shared machine.
    contenders = {(b, name): fn for b, p in prepared.items() if b not in timings
                  for name, fn in layers.timed_calls(p).items()}
    for (b, name), stats in instruments.measure_alternated(contenders, plan.repeats).items():
        timings.setdefault(b, {})[name] = stats
    for backend in backends:
        entry["results"][backend] = layers.finish(prepared[backend], timings[backend])
        entry["results"][backend]["role"] = role(backend)
        if role(backend) == LIBRARY:
            entry["results"][backend]["library"] = True
    if case.kind == "conv":
        geo = case.geometry()
        entry["flops"] = dict(forward=case.flops_forward, backward=case.flops_backward)
        x, w, y = geo.N * geo.C * geo.H * geo.W, geo.F * geo.Cg * geo.kh * geo.kw, \
            geo.N * geo.F * geo.Ho * geo.Wo
        # forward reads x, w, writes y; backward-data reads dy, w, writes dx; backward-weights
        # reads dy, x, writes dw: the least traffic of the three passes.
        entry["bytes"] = np.dtype(dtype).itemsize * (3 * x + 3 * w + 3 * y)
        if dtype == np.float64:  # the reference is float64 too: it cannot judge float64
            for result in entry["results"].values():
                result.update(error=None, error_normwise=None)
            return entry
        ref = layers.reference(case, dtype)
        for backend in backends:
            if not (plan.quick and role(backend) == REFERENCE):  # quick: naive saw 4 images
                entry["results"][backend].update(layers.error_units(case, backend, dtype, ref))
    return entry
