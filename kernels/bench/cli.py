"""`python -m kernels bench`: every backend side by side, against PyTorch and the GEMM limit.

    python -m kernels bench                       # all cases, all backends, PyTorch if installed
    python -m kernels bench --quick               # convnet's layers
    python -m kernels bench --backends im2col,numba --cases convnet --json out.json --plot out.png

Columns: forward and backward milliseconds (median of the samples, with the 25-75 % spread),
GF/s of forward+backward (3x the forward FLOPs), that rate as a share of the NumPy GEMM rate
measured in the same run, speed-up over naive, time relative to PyTorch (1.00 = same speed,
2.00 = twice as slow), workspace (peak extra NumPy memory beyond the results) and the
seconds of the first calls (compilation, auto's measurements).
"""

from __future__ import annotations

import dataclasses
import sys

from .. import available, plugins
from ..cases import ARCHITECTURES, QUICK_CASES, all_cases, sets
from ..cases.custom import collect as collect_custom
from ..support.command_line import Parser
from ..support.cores import default_threads
from ..support.files import atomic_write
from ..support.runtime import usable_cores
from . import side_by_side
from .judging import compare
from .output import charts, csv_rows, markdown
from .output.outputs import output_problem, write_json
from .report import SECTIONS, Plan, nothing_runs, run

# the sets the targets are set on (kernels.bench.judging.targets); the others by name, or all
DEFAULT_SETS = ("mnist", "std", "large", "resnet50", "mobilenet")


def build_parser():
    parser = Parser(prog="python -m kernels bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends",
                        help=f"comma-separated (default: all of {','.join(available())})")
    parser.add_argument("--cases", help="comma-separated sets (" + ", ".join([*sets(), "all"])
                        + "), case names or prefixes, e.g. convnet,std.1x1 (default: "
                        f"{','.join(DEFAULT_SETS)}; --quick: {','.join(QUICK_CASES)})")
    parser.add_argument("--case", action="append", metavar="SPEC",
                        help="a layer of your own, repeatable: name=mylayer,N=8,C=64,H=56,W=56,"
                             "F=64,k=3,stride=1,padding=1,dilation=1,groups=1 (pairs as 3x5; "
                             "a pool: name=p,kind=pool,op=max,C=64,H=56,k=2); alone, it replaces "
                             "the default sets (see kernels.cases.custom)")
    parser.add_argument("--cases-file", action="append", metavar="FILE",
                        help="cases from a JSON list of objects or a CSV with a header, the "
                             "--case keys plus a source for each, repeatable")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which parts to run, comma-separated from {','.join(SECTIONS)}")
    parser.add_argument("--batch", type=int, help="every case at this batch size instead of "
                                                   "its own (MNIST cases: 64)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, help="samples per measurement (default 15; quick 5)")
    parser.add_argument("--threads", type=int,
                        help="BLAS, Numba and PyTorch threads, at most the cores this process "
                             f"may use (default: the {usable_cores()} usable cores less those "
                             "busy with other work at start)")
    parser.add_argument("--quick", action="store_true",
                        help="convnet only, fewer samples, naive extrapolated from a 4-image batch")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--no-malloc-reuse", action="store_true",
                        help="keep glibc's default of returning big freed blocks to the OS "
                             "(see kernels.support.runtime)")
    parser.add_argument("--json", metavar="PATH", help="write every number and the environment")
    parser.add_argument("--plot", metavar="PNG", help="chart of the results (needs matplotlib)")
    parser.add_argument("--breakdown", metavar="PNG",
                        help="stacked bars: where a training step's time goes, per component")
    parser.add_argument("--roofline", metavar="PNG",
                        help="achieved GF/s against arithmetic intensity under the GEMM and "
                             "memory roofs (needs matplotlib)")
    parser.add_argument("--markdown", metavar="PATH", help="the tables as Markdown")
    parser.add_argument("--csv", metavar="PATH", help="one row per case and backend")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                        help="measure nothing: what changed between two --json reports, "
                             "exit 1 on a significant slowdown beyond --threshold (refused "
                             "when not measured alike, see --force; two machines: figures "
                             "per machine, no verdict)")
    parser.add_argument("--threshold", type=float, metavar="RATIO",
                        help=f"--compare: the least new/old change that counts (default "
                             f"{compare.THRESHOLD}: 10 %% slower)")
    parser.add_argument("--alpha", type=float,
                        help=f"--compare: the family-wise significance level of the "
                             f"Mann-Whitney tests, Holm-corrected (default {compare.ALPHA})")
    parser.add_argument("--machines", nargs="+", metavar="REPORT",
                        help="measure nothing: per case, each report's machine's fastest of "
                             "ours as a share of its measured peak and x its fastest "
                             "framework (with --markdown PATH: also as Markdown)")
    parser.add_argument("--shard", metavar="I/N",
                        help="time only shard I of N (numbered from 1) of the selected cases "
                             "and models, a deterministic split; `python -m kernels merge` "
                             "joins the shards' --json files (kernels.bench.shards)")
    parser.add_argument("--force", action="store_true",
                        help="--compare: compare reports of another thread count, dtype, "
                             "batch, --quick or schema anyway (the header lists the "
                             "differences)")
    return parser


OUTPUT_FLAGS = ("--json", "--plot", "--roofline", "--breakdown", "--markdown", "--csv")


def _names(text, flag, parser):
    """A comma-separated list from the command line; an empty item is a mistake."""
    if text is None:
        return None
    names = text.split(",")
    if "" in names:
        parser.error(f"{flag} {text!r} has an empty name; give comma-separated names")
    return list(dict.fromkeys(names))


def plan_from(args, parser, argv) -> Plan:
    """Every check before any measurement: a bad request costs nothing."""
    backends = _names(args.backends, "--backends", parser) or available()
    if unknown := [b for b in backends if b not in available()]:
        parser.error(f"unknown backend(s) "
                     f"{', '.join(b + plugins.did_you_mean(b) for b in unknown)}; "
                     f"available: {', '.join(available())}")
    # PyTorch is timed unless --no-torch, as before it was a backend: once registered, the
    # `torch` backend is the report's PyTorch row whatever --backends lists.
    requested = list(backends)
    if args.no_torch:
        backends = [b for b in backends if b != "torch"]
    elif "torch" in available() and "torch" not in backends:
        backends.append("torch")
    try:  # the user's own cases: every spec checked before anything is measured
        custom = collect_custom(args.case, args.cases_file)
    except ValueError as error:
        parser.error(str(error))
    wanted = _names(args.cases, "--cases", parser) or ([] if custom else
                                                       list(QUICK_CASES) if args.quick else
                                                       list(DEFAULT_SETS))
    names, groups = [], {**sets(), "all": list(all_cases())}
    for token in wanted:
        matched = groups.get(token) or [n for n in all_cases() if n.startswith(token)]
        if not matched:
            parser.error(f"no case matches {token!r}; sets: {', '.join(groups)}; or a case "
                         "name or prefix, e.g. convnet.conv2, resnet50.res4")
        names += matched
    names = [n for n in all_cases() if n in set(names)]  # each once, in the usual order
    sections = _names(args.sections, "--sections", parser)
    if bad := [s for s in sections if s not in SECTIONS]:
        parser.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    if args.threads is not None and not 1 <= args.threads <= usable_cores():
        parser.error(f"--threads {args.threads}: must be from 1 to the {usable_cores()} cores "
                     "this process may use (more threads than cores only slow BLAS down)")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    for flag in OUTPUT_FLAGS:
        if problem := output_problem(flag, getattr(args, flag[2:])):
            parser.error(problem)  # now, not after minutes of measuring
    if args.plot or args.roofline or args.breakdown:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot, --roofline and --breakdown need matplotlib: "
                         "pip install 'convbench[bench]'")
    archs = [a for a in ARCHITECTURES if any(n.startswith(a + ".") for n in names)]
    cases = [all_cases()[n] for n in names] + list(custom)  # resolved once, here
    if args.batch is not None:
        cases = [c.with_batch(args.batch) for c in cases]
    if args.threads is None:  # after every check: a bad request costs no sample
        args.threads, line = default_threads()
        print(line, flush=True)
    plan = Plan(backends=backends, cases=cases, sections=sections, archs=archs,
                dtype=args.dtype, repeats=args.repeats or (5 if args.quick else 15),
                quick=args.quick, batch=args.batch, threads=args.threads, torch=not args.no_torch,
                malloc_reuse=not args.no_malloc_reuse,
                command="python -m kernels bench " + " ".join(argv))
    # PyTorch, added above whatever --backends says, does not count as what was asked for.
    if problem := nothing_runs(dataclasses.replace(plan, backends=requested)):
        parser.error(problem)
    return plan


def _sharded(plan, spec, parser):
    """(the plan cut to the shard `--shard` names, its record for the JSON), or the whole
    plan and None without --shard."""
    if spec is None:
        return plan, None
    from . import shards

    try:
        return shards.bench_shard(plan, *shards.parse(spec))
    except ValueError as error:
        parser.error(str(error))


def _write_text(path, text):
    atomic_write(path, lambda f: f.write(text.encode()))
    print(f"wrote {path}")


def main(argv=None):
    argv = list(sys.argv[2:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [a.option_strings[0] for a in parser._actions if a.option_strings
             and a.dest not in ("help", "compare", "force", "threshold", "alpha", "machines")
             and getattr(args, a.dest) != a.default]
    if args.compare and args.machines:
        parser.error("--compare and --machines are two different reads: give one")
    if args.machines:
        if given := [g for g in given if g != "--markdown"] + \
                [f for f in ("--force", "--threshold", "--alpha")
                 if getattr(args, f[2:]) not in (None, False)]:
            parser.error(f"--machines measures nothing: {', '.join(given)} "
                         f"{'does' if len(given) == 1 else 'do'} not apply to it")
        if problem := output_problem("--markdown", args.markdown):
            parser.error(problem)
        return side_by_side.main(args.machines, markdown=args.markdown)
    if args.compare:
        if given:  # measuring options would be ignored: say so rather than ignore them
            parser.error(f"--compare measures nothing: {', '.join(given)} "
                         f"{'does' if len(given) == 1 else 'do'} not apply to it")
        threshold = compare.THRESHOLD if args.threshold is None else args.threshold
        alpha = compare.ALPHA if args.alpha is None else args.alpha
        if not threshold > 1:
            parser.error(f"--threshold {threshold:g}: must be above 1 (e.g. 1.10 = 10 % "
                         "slower)")
        if not 0 < alpha < 1:
            parser.error(f"--alpha {alpha:g}: must be between 0 and 1 (e.g. 0.01)")
        return compare.main(*args.compare, force=args.force, threshold=threshold, alpha=alpha)
    if flags := [f for f in ("--force", "--threshold", "--alpha")
                 if getattr(args, f[2:]) not in (None, False)]:
        parser.error(f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} "
                     "only to --compare")
    plan, shard = _sharded(plan_from(args, parser, argv), args.shard, parser)
    report = run(plan)
    if shard:
        report["shard"] = shard
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    for path, draw in ((args.plot, charts.plot), (args.roofline, charts.roofline),
                       (args.breakdown, charts.breakdown)):
        if path:
            draw(report, path)
            print(f"wrote {path}")
    if args.markdown:
        _write_text(args.markdown, markdown.markdown(report))
    if args.csv:
        _write_text(args.csv, csv_rows.csv_text(report))
    if report.get("partial"):
        print(f"python -m kernels bench: interrupted; the {report['partial']['cases']} cases "
              "measured were written, marked partial", file=sys.stderr)
        return 130
    return 0
