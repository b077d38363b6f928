"""One report: the machine and its environment, then every selected backend (PyTorch's among
them) on the layer cases (report_cases) and in the whole-model sections (report_models), then
the targets checked. The command line (`kernels.bench.cli`) validates the request first, with
`nothing_runs`; this module only runs it, printing each table as soon as it is measured."""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass, replace

import numpy as np

from .. import is_ours
from ..support import runtime
from . import report_cases, report_models
from .judging import targets
from .measuring import instruments, libraries
from .measuring.load import SectionClock
from .output import render
from .output.outputs import SCHEMA_VERSION

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
        report_cases.measure(report, plan, clock, dtype)
        report_models.measure(report, plan, clock, dtype)
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


def settings(plan, environment) -> dict:
    """What makes two reports comparable (kernels.bench.judging.compare checks these)."""
    return dict(schema=SCHEMA_VERSION, quick=plan.quick, repeats=plan.repeats,
                batch=plan.batch, dtype=plan.dtype, threads=plan.threads,
                cpu=environment["cpu"], cores=environment["cores"],
                sections=list(plan.sections))


def nothing_runs(plan) -> str | None:
    """Why nothing the user asked for would be measured (every selected backend refuses
    every selected case, and no whole-model section runs), or None."""
    if plan.archs and set(plan.sections) & {"train", "eval", "breakdown", "memory"}:
        return None
    if any(not is_ours(b) for b in plan.backends):  # a library may only be loaded once the
        return None  # threads are pinned (its runtime sizes its pools then): assume it runs
    cases = [c for c in plan.cases if c.kind in plan.sections]
    skipped = report_cases.skipped
    if not cases or any(len(skipped(c, plan.backends)) < len(plan.backends) for c in cases):
        return None
    case = cases[0]
    return (f"none of {', '.join(plan.backends)} computes any selected case, e.g. "
            f"{case.name}: " + "; ".join(f"{b}: {r}" for b, r in
                                         skipped(case, plan.backends).items()))
