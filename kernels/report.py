"""`python -m kernels bench`: every backend side by side, against PyTorch and the GEMM limit.

    python -m kernels bench                       # all cases, all backends, PyTorch if installed
    python -m kernels bench --quick               # convnet's layers, under a minute
    python -m kernels bench --backends im2col,numba --cases convnet --json out.json --plot out.png

Columns: forward and backward milliseconds (median of the samples, with the 25-75 % spread),
GF/s of forward+backward (3x the forward FLOPs), that rate as a share of the NumPy GEMM rate
measured in the same run, speed-up over naive, time relative to PyTorch (1.00 = same speed,
2.00 = twice as slow) and workspace: peak extra NumPy memory beyond the results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

import numpy as np

from . import available, get_backend, runtime, tables, targets
from .files import atomic_write, writable_problem
from .cases import ARCHITECTURES, QUICK_CASES, all_cases, practical

SECTIONS = ("conv", "pool", "train", "eval")


def _environment(args, threads_info, torch_version, malloc_tuned):
    cpu = runtime.cpu_model()
    import numba
    return dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                command="python -m kernels bench " + " ".join(args.argv), cpu=cpu,
                cores=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, numba_threading_layer=numba.config.THREADING_LAYER,
                torch=torch_version, dtype=args.dtype, malloc_reuse=malloc_tuned,
                **threads_info)


def _torch_version(disabled):
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m kernels bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", help=f"comma-separated (default: all of {','.join(available())})")
    parser.add_argument("--cases", help="comma-separated names or prefixes, e.g. convnet,std.1x1 "
                                        f"(default: all; --quick: {','.join(QUICK_CASES)})")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which parts to run, comma-separated from {','.join(SECTIONS)}")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, help="samples per measurement (default 15; quick 5)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="BLAS, Numba and PyTorch threads (default: the cores this "
                             "process may use)")
    parser.add_argument("--quick", action="store_true",
                        help="convnet only, fewer samples, naive extrapolated from a 4-image batch")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--no-malloc-reuse", action="store_true",
                        help="keep glibc's default of returning big freed blocks to the OS "
                             "(see kernels.runtime)")
    parser.add_argument("--json", metavar="PATH", help="write every number and the environment")
    parser.add_argument("--plot", metavar="PNG", help="chart of the results (needs matplotlib)")
    parser.add_argument("--markdown", metavar="PATH", help="the tables as Markdown")
    return parser


def _select(args, parser):
    backends = available() if not args.backends else args.backends.split(",")
    unknown = [b for b in backends if b not in available()]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; available: {', '.join(available())}")
    names = list(QUICK_CASES) if args.quick and not args.cases else list(all_cases())
    if args.cases:
        wanted = args.cases.split(",")
        if unmatched := [w for w in wanted if not any(n.startswith(w) for n in all_cases())]:
            parser.error(f"no case matches {', '.join(map(repr, unmatched))}; "
                         f"cases: {', '.join(all_cases())}")
        names = [n for n in all_cases() if any(n.startswith(w) for w in wanted)]
    sections = args.sections.split(",")
    if bad := [s for s in sections if s not in SECTIONS]:
        parser.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    archs = [a for a in ARCHITECTURES if any(n.startswith(a + ".") for n in names)]
    return backends, names, sections, archs


def run(args, parser):
    backends, names, sections, archs = _select(args, parser)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    repeats = args.repeats or (5 if args.quick else 15)
    for path in (args.json, args.plot, args.markdown):
        if path and (problem := writable_problem(path)):
            parser.error(problem)  # now, not after minutes of measuring
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install 'convbench[bench]'")
    torch_version = _torch_version(args.no_torch)  # imported first, so its threads get pinned
    malloc_tuned = False if args.no_malloc_reuse else runtime.reuse_freed_memory()
    threads_info = runtime.pin_threads(args.threads)
    from . import bench  # after pinning: the backends import numba

    get_backend("numba")  # imports numba with the threading layer it sets, for the record
    dtype = np.dtype(args.dtype).type
    report = dict(environment=_environment(args, threads_info, torch_version, malloc_tuned),
                  gemm={d: bench.gemm_peak(np.dtype(d).type, repeats) for d in ("float32", "float64")},
                  cases=[], workspace_cap=[], train_steps=[], evaluate=[])
    peak = report["gemm"][args.dtype]["gflops"]
    _print_header(report)

    for name in names:
        case = all_cases()[name]
        if case.kind not in sections:
            continue
        entry = dict(name=name, kind=case.kind, description=case.describe(), results={})
        if case.kind == "conv":
            entry["flops"] = dict(forward=case.flops_forward, backward=case.flops_backward)
        for backend in backends:
            if practical(case, backend):
                entry["results"][backend] = bench.time_case(case, backend, dtype, repeats, args.quick)
        if torch_version:
            entry["results"]["torch"] = bench.torch_case(case, dtype, repeats)
        _derive(entry, peak)
        report["cases"].append(entry)
        _print_case(entry)

    if "conv" in sections and "im2col" in backends:
        from .im2col import MAX_WORKSPACE_BYTES
        for name in names:
            case = all_cases()[name]
            # The MNIST layers (the target) and the one standard case big enough to chunk.
            if case.kind == "conv" and (case.mnist or name == "std.3x3x64"):
                report["workspace_cap"].append(
                    bench.workspace_cap_case(case, dtype, repeats, MAX_WORKSPACE_BYTES))

    # Whole models: naive is left out (minutes per step); the layer cases show its rung.
    for section, key, suffix, ours, theirs, what, samples in (
            ("train", "step", "train_step", bench.train_step_case, bench.torch_train_step,
             "training step (forward, backward, Adam), batch 64", repeats),
            ("eval", "evaluate", "evaluate_10k", bench.evaluate_case, bench.torch_evaluate,
             "evaluation of 10,000 images, batches of 500", max(1, repeats // 5))):
        for arch in archs if section in sections else []:
            entry = dict(name=f"{arch}.{suffix}", arch=arch, results={})
            for backend in backends:
                if backend != "naive":
                    entry["results"][backend] = ours(arch, backend, dtype, samples)
            if torch_version:
                entry["results"]["torch"] = theirs(arch, dtype, samples)
            _derive_simple(entry, key)
            report["train_steps" if section == "train" else "evaluate"].append(entry)
            _print_simple(entry, key, what)

    if not torch_version:
        print("PyTorch reference skipped: " + ("--no-torch" if args.no_torch else
              "torch is not installed (pip install torch==2.13.0)"))
    report["targets"] = targets.check(report)
    targets.print_rows(report["targets"])
    return report


def _derive(entry, peak):
    """GF/s, share of GEMM peak, x naive and x torch for every backend of a case."""
    results = entry["results"]
    total = {b: r["forward"]["median"] + r["backward"]["median"] for b, r in results.items()}
    for backend, r in results.items():
        r["total_seconds"] = total[backend]
        if "flops" in entry:
            flops = entry["flops"]["forward"] + entry["flops"]["backward"]
            r["gflops"] = flops / total[backend] / 1e9
            r["forward_gflops"] = entry["flops"]["forward"] / r["forward"]["median"] / 1e9
            r["peak_fraction"] = r["gflops"] / peak
        r["speedup_vs_naive"] = total["naive"] / total[backend] if "naive" in total else None
        r["time_vs_torch"] = total[backend] / total["torch"] if "torch" in total else None


def _derive_simple(entry, key):
    results = entry["results"]
    for r in results.values():
        r["time_vs_torch"] = r[key]["median"] / results["torch"][key]["median"] \
            if "torch" in results else None


def _ms(stats):
    return f"{stats['median'] * 1e3:9.2f} ±{(stats['p75'] - stats['p25']) * 5e2:<6.2f}"


def _print_header(report):
    env = report["environment"]
    print(f"{env['date']}  {env['cpu']}  {env['cores']} cores, {env['threads']} threads  "
          f"numpy {env['numpy']}  numba {env['numba']} ({env['numba_threading_layer']})  "
          f"torch {env['torch'] or '-'}  {env['dtype']}  malloc reuse {env['malloc_reuse']}")
    blas = tables.blas_summary(env)
    gemm = report["gemm"]
    print(f"BLAS: {blas}.  GEMM limit: float32 {gemm['float32']['gflops']:.1f} GF/s, "
          f"float64 {gemm['float64']['gflops']:.1f} GF/s (n={gemm['float32']['n']})\n")


def _print_case(entry):
    print(f"{entry['name']}  {entry['description']}" + (
        f"  ({entry['flops']['forward'] / 1e9:.3f} GFLOP forward)" if "flops" in entry else ""))
    print(f"  {'backend':8} {'forward ms':>17} {'backward ms':>17} {'GF/s':>7} {'%peak':>6} "
          f"{'x naive':>9} {'x torch':>8} {'workspace':>10}")
    for backend, r in entry["results"].items():
        gf = f"{r['gflops']:7.1f} {r['peak_fraction']:6.1%}" if "gflops" in r else f"{'-':>7} {'-':>6}"
        note = f"  ({r['note']})" if "note" in r else ""
        if backend == "numba":  # compilation or loading the on-disk cache
            note += f"  (first calls {r['first_call_seconds']:.1f} s)"
        chose = f"  -> {r['chose']}" if "chose" in r else ""
        print(f"  {backend:8} {_ms(r['forward'])} {_ms(r['backward'])} {gf} "
              f"{tables.ratio(r['speedup_vs_naive']):>9} {tables.ratio(r['time_vs_torch']):>8} "
              f"{tables.size(r.get('workspace_bytes')):>10}{chose}{note}")
    print()


def _print_simple(entry, key, what):
    print(f"{entry['name']}  {what}")
    print(f"  {'backend':8} {'ms':>17} {'x torch':>8}")
    for backend, r in entry["results"].items():
        print(f"  {backend:8} {_ms(r[key])} {tables.ratio(r['time_vs_torch']):>8}")
    print()


def plot(report, path):
    """Two panels: conv cases in GF/s against the GEMM limit, and every case's time relative
    to PyTorch. One colour per backend in both, one legend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    convs = [c for c in report["cases"] if c["kind"] == "conv"]
    others = [c for c in report["cases"] if c["kind"] == "pool"] + report["train_steps"] + \
        report["evaluate"]
    backends = list(dict.fromkeys(b for c in convs + others for b in c["results"]))
    colors = {b: plt.cm.tab10(i) for i, b in enumerate(backends)}
    bar = 0.8 / max(1, len(backends))
    rows = max(len(convs), len(others), 1)
    fig, axes = plt.subplots(1, 2, figsize=(13, rows * (0.16 * len(backends) + 0.25) + 1.6))
    panels = ((axes[0], convs, "gflops", "forward+backward GF/s (log scale)"),
              (axes[1], others, "time_vs_torch", "time relative to PyTorch (log scale; < 1 is faster)"))
    for ax, cases, key, label in panels:
        for i, case in enumerate(cases):
            for j, backend in enumerate(backends):
                value = case["results"].get(backend, {}).get(key)
                if value:
                    ax.barh(i + j * bar, value, bar, color=colors[backend])
        ax.set_yticks([i + 0.4 - bar / 2 for i in range(len(cases))], [c["name"] for c in cases])
        ax.set_ylim(len(cases) - bar / 2, -bar)  # first case on top
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.grid(axis="x", which="major", alpha=0.3)
    dtype = report["environment"]["dtype"]
    limit = report["gemm"][dtype]["gflops"]
    axes[0].axvline(limit, color="k", ls="--", lw=1)
    axes[0].text(limit, 1.0, f"GEMM {limit:.0f} GF/s ", transform=axes[0].get_xaxis_transform(),
                 ha="right", va="bottom", fontsize=8)
    if report["environment"]["torch"]:
        axes[1].axvline(1.0, color="k", ls="--", lw=1)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[b]) for b in backends]
    fig.legend(handles, backends, loc="upper center", ncol=len(backends), frameon=False,
               bbox_to_anchor=(0.5, 0.98))
    env = report["environment"]
    fig.suptitle(f"convbench {env['dtype']}, batch 64 - {env['cpu']}, {env['threads']} threads, "
                 f"{env['date'][:10]}", fontsize=10, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[2:] if argv is None else argv)
    report = run(args, parser)
    if args.json:
        text = json.dumps(report, indent=1) + "\n"
        atomic_write(args.json, lambda f: f.write(text.encode()))
        print(f"wrote {args.json}")
    if args.plot:
        plot(report, args.plot)
        print(f"wrote {args.plot}")
    if args.markdown:
        text = tables.markdown(report)
        atomic_write(args.markdown, lambda f: f.write(text.encode()))
        print(f"wrote {args.markdown}")
    return 0
