"""One report: measure every selected backend and PyTorch on the selected cases, derive the
columns, check the targets. The command line (`kernels.bench.cli`) validates the request
first; this module only runs it, printing each table as soon as it is measured."""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass, replace

import numpy as np

from .. import LIBRARY, REFERENCE, capabilities, is_ours, role
from ..cases import practical
from ..support import runtime
from . import columns, instruments, layers, libraries, render, report_models, targets
from .load import SectionClock
from .outputs import SCHEMA_VERSION

SECTIONS = ("conv", "pool", "train", "eval", "breakdown", "memory")


@dataclass(frozen=True)
class Plan:
    """A validated request (see kernels.bench.cli)."""

    backends: list
    cases: list           # kernels.cases' case objects, resolved by the command line
    sections: list
    archs: list
    dtype: str
    repeats: int
    quick: bool
    batch: int | None     # every case at this batch instead of its own
    threads: int
    torch: bool           # whether to time PyTorch (when installed)
    malloc_reuse: bool
    command: str


def _torch_version(wanted):
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def _environment(plan, threads_info, torch_version, malloc_tuned):
    from ..support import jit
    jit.configure()  # Numba's settings before it reports its threads, whoever loaded it
    import numba

    return dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                command=plan.command, cpu=runtime.cpu_model(), cores=os.cpu_count(),
                python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, numba_threading_layer=numba.config.THREADING_LAYER,
                torch=torch_version, dtype=plan.dtype, malloc_reuse=malloc_tuned,
                openblas_thread_timeout=os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
                omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                **instruments.machine_peak(plan.dtype, plan.threads), **threads_info)


def run(plan: Plan) -> dict:
    imported = _torch_version(plan.torch)  # imported first, so its threads get pinned
    malloc_tuned = plan.malloc_reuse and runtime.reuse_freed_memory()
    threads_info = runtime.pin_threads(plan.threads)
    # The libraries load after the pinning (their runtimes size their pools from it); one
    # that fails to load is left out. PyTorch is the `torch` backend: a library row of every
    # case, and its twin in the whole-model sections, only when that backend loaded.
    threads_info["libraries"], usable = libraries.start(plan.backends, plan.threads)
    plan = replace(plan, backends=usable)
    torch_version = imported if "torch" in plan.backends else None
    dtype = np.dtype(plan.dtype).type
    clock = SectionClock()
    with clock.section("machine"):
        gemm = {d: instruments.gemm_peak(np.dtype(d).type, plan.repeats)
                for d in ("float32", "float64")}
        memory = instruments.memory_bandwidth(plan.repeats)
    environment = _environment(plan, threads_info, torch_version, malloc_tuned)
    report = dict(settings=settings(plan, environment), environment=environment, gemm=gemm,
                  memory=memory, sections=clock.sections, cases=[], workspace_cap=[],
                  train_steps=[], evaluate=[], breakdown=[], peak_memory=None)
    render.print_header(report)
    try:
        _measure(report, plan, clock, dtype)
    except KeyboardInterrupt:  # Ctrl-C: what was measured is kept, marked partial
        if not report["cases"]:
            raise  # nothing measured yet: nothing to keep, no file
        report["partial"] = dict(reason="interrupted (Ctrl-C)", cases=len(report["cases"]))
        report["targets"] = []  # a partial run judges nothing
        print(f"\ninterrupted: the {len(report['cases'])} cases measured so far are kept, "
              "marked partial", flush=True)
        return report

    if not torch_version:
        print("PyTorch reference skipped: " + ("--no-torch" if not plan.torch else
              "its backend did not load (above)" if imported else
              "torch is not installed (pip install torch==2.13.0)"))
    render.print_load(report["sections"])
    report["targets"] = targets.check(report)
    render.print_targets(report["targets"])
    return report


def _measure(report, plan, clock, dtype):
    """The layer cases, the workspace cap, the GEMM rate again, then the whole models."""
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

    report_models.measure(report, plan, clock, dtype)


def settings(plan, environment) -> dict:
    """What makes two reports comparable (kernels.bench.compare checks these)."""
    return dict(schema=SCHEMA_VERSION, quick=plan.quick, repeats=plan.repeats,
                batch=plan.batch, dtype=plan.dtype, threads=plan.threads,
                cpu=environment["cpu"], cores=environment["cores"],
                sections=list(plan.sections))


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


def nothing_runs(plan) -> str | None:
    """Why nothing the user asked for would be measured (every selected backend refuses
    every selected case, and no whole-model section runs), or None."""
    if plan.archs and set(plan.sections) & {"train", "eval", "breakdown", "memory"}:
        return None
    if any(not is_ours(b) for b in plan.backends):  # a library may only be loaded once the
        return None  # threads are pinned (its runtime sizes its pools then): assume it runs
    cases = [c for c in plan.cases if c.kind in plan.sections]
    if not cases or any(len(skipped(c, plan.backends)) < len(plan.backends) for c in cases):
        return None
    case = cases[0]
    return (f"none of {', '.join(plan.backends)} computes any selected case, e.g. "
            f"{case.name}: " + "; ".join(f"{b}: {r}" for b, r in
                                         skipped(case, plan.backends).items()))


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
