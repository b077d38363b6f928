"""`python -m kernels map`: which algorithm wins where, over kernel size, channels and image
size, and by how much over the runner-up and over PyTorch.

Two sweeps at a fixed batch, stride 1 and 'same' padding (the output is the input's size):
kernel size x channels (C = F) at one image size, and kernel size x image size at one
channel count. At each point every registered algorithm that supports the layer, and
PyTorch when installed, is timed on forward + backward-data + backward-weights (warmed up,
median of the samples, the contenders taking turns in blocks so that a burst of load on the
shared machine does not fall on one of them alone); the point records every time, the
winner, the runner-up's time over the winner's ("margin") and the winner's time over
PyTorch's. The heatmap colours each cell by its winner and prints the two ratios.

The installed libraries that compute all three passes (frameworks, plug-ins) are timed at
every point too, unless --no-libraries: the winner stays the fastest of ours, and the point
records the fastest library and our winner's time over its time (kernels.bench.map_points).
With --case or --cases-file the map is taken at exactly those conv layers instead of the
sweeps: one row per layer, same verdicts (pool cases are left out, and refused alone: the map
times convolutions).
"""

from __future__ import annotations

import datetime
import os
import sys

import numpy as np

from .. import ALGORITHM, available, capabilities, get_backend
from ..cases.custom import collect as collect_custom
from ..shapes import conv2d_geometry
from ..support import peak, runtime
from ..support.command_line import Parser
from . import map_points, shards
from .measuring import libraries as library_report
from .measuring.instruments import measure_alternated
from .measuring.load import SectionClock
from .output.map_heatmap import heatmap
from .output.outputs import output_problem, write_json

KERNELS = (1, 3, 5, 7, 9, 11)
CHANNELS = (1, 4, 16, 64, 256)
SIZES = (8, 16, 32, 64, 128)
BATCH, SIZE_FOR_CHANNELS, CHANNELS_FOR_SIZES = 4, 16, 16


def _arrays(N, C, H, k, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    w = rng.standard_normal((C, C, k, k)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    return x, w, b, rng.standard_normal((N, C, H, H)).astype(dtype)


def _ours(backend, x, w, b, dy):
    def step():
        y, cache = backend.conv2d_forward(x, w, b, padding="same")
        backend.conv2d_backward(dy, cache)
    return step


def _torch(x, w, b, dy):
    import torch
    import torch.nn.functional as F

    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    tdy = torch.from_numpy(dy)

    def step():
        torch.autograd.grad(F.conv2d(tx, tw, tb, padding="same"), [tx, tw, tb], tdy)
    return step


def point(N, C, H, k, backends, with_torch, repeats, dtype=np.float32, libraries=()):
    """Seconds of forward + both backward passes per contender at one point of the map
    (`libraries`: library backends timed beside ours, never the winner; map_points)."""
    x, w, b, dy = _arrays(N, C, H, k, dtype)
    geo = conv2d_geometry(x, w, b, padding="same")
    contenders = {}
    for name in [*backends, *libraries]:
        if capabilities(name).unsupported(geo) is None:
            contenders[name] = _ours(get_backend(name), x, w, b, dy)
    if with_torch and "torch" not in libraries:  # hand-built where torch is not registered
        contenders["torch"] = _torch(x, w, b, dy)
    seconds = {name: stats["median"]
               for name, stats in measure_alternated(contenders, repeats).items()}
    return dict(N=N, C=C, H=H, k=k, flops=3 * geo.flops, seconds=seconds,
                **map_points.outcome(seconds, libraries))


def sweep(backends, with_torch, repeats, kernels=KERNELS, channels=CHANNELS, sizes=SIZES,
          batch=BATCH, progress=print, libraries=(), keep=None):
    """Both panels' points; `keep(panel, k, C, H)`, when given, picks which are measured
    (a --shard's)."""
    panels = {"channels": [], "size": []}
    for k in kernels:
        for C in channels:
            if keep is None or keep("channels", k, C, SIZE_FOR_CHANNELS):
                panels["channels"].append(point(batch, C, SIZE_FOR_CHANNELS, k, backends,
                                                with_torch, repeats, libraries=libraries))
                progress(_line(panels["channels"][-1]))
        for H in sizes:
            if keep is None or keep("size", k, CHANNELS_FOR_SIZES, H):
                panels["size"].append(point(batch, CHANNELS_FOR_SIZES, H, k, backends,
                                            with_torch, repeats, libraries=libraries))
                progress(_line(panels["size"][-1]))
    return panels


def units(axes: dict, cases) -> list[str]:
    """The map's units for --shard (kernels.bench.shards), in the order it measures them:
    the user's cases, or the two sweeps' points (kernel by kernel: channels, then sizes)."""
    if cases:
        return [f"case {c.name}" for c in cases]
    found = []
    for k in axes["kernels"]:
        found += [shards.point_unit("channels", k, C, SIZE_FOR_CHANNELS)
                  for C in axes["channels"]]
        found += [shards.point_unit("size", k, CHANNELS_FOR_SIZES, H) for H in axes["sizes"]]
    return found


def _line(p):
    times = "  ".join(f"{n} {s * 1e3:.2f}" for n, s in sorted(p["seconds"].items(),
                                                               key=lambda i: i[1]))
    library = f"; fastest library {p['library']}" if p.get("library") else ""
    return f"k={p['k']:2} C={p['C']:3} H={p['H']:3}: {p['winner']}{library}  ({times} ms)"


def main(argv=None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    parser = Parser(prog="python -m kernels map", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="every time at every point")
    parser.add_argument("--plot", metavar="PNG", help="the heatmap (needs matplotlib)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=runtime.usable_cores())
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="kernels 1, 3, 7; channels 4, 64; sizes 8, 32 (a smoke test)")
    parser.add_argument("--no-libraries", action="store_true",
                        help="time only our algorithms (and PyTorch, unless --no-torch); by "
                             "default every installed library computing all three passes is "
                             "a contender beside ours, never the winner")
    parser.add_argument("--case", action="append", metavar="SPEC",
                        help="instead of the sweeps, the map at your own conv layers, as in "
                             "bench --case (repeatable)")
    parser.add_argument("--cases-file", action="append", metavar="FILE",
                        help="conv layers from a JSON or CSV file, as in bench --cases-file")
    parser.add_argument("--backends", metavar="NAMES",
                        help="comma-separated: only these of our algorithms (default: all of "
                             "them)")
    parser.add_argument("--shard", metavar="I/N",
                        help="measure only shard I of N (numbered from 1) of the points or "
                             "cases, a deterministic split; `python -m kernels merge` joins "
                             "the shards' --json files (kernels.bench.shards)")
    args = parser.parse_args(argv)
    algorithms = available(ALGORITHM)
    if args.backends is not None:
        chosen = list(dict.fromkeys(args.backends.split(",")))
        if unknown := [b for b in chosen if b not in algorithms]:
            parser.error(f"--backends: {', '.join(map(repr, unknown))} is not one of our "
                         f"algorithms; choose from {', '.join(algorithms)}")
        algorithms = chosen
    try:
        cases = collect_custom(args.case, args.cases_file)
    except ValueError as error:
        parser.error(str(error))
    if pools := [c.name for c in cases if c.kind != "conv"]:
        if len(pools) == len(cases):
            parser.error(f"{pools[0]} is a pool case; the map times convolutions (time "
                         "pools with python -m kernels bench)")
        print(f"pool cases left out (the map times convolutions): {', '.join(pools)}")
        cases = [c for c in cases if c.kind == "conv"]
    for flag in ("--json", "--plot"):
        if problem := output_problem(flag, getattr(args, flag[2:])):
            parser.error(problem)
    if not 1 <= args.threads <= runtime.usable_cores() or args.repeats < 1:
        parser.error(f"--threads must be from 1 to {runtime.usable_cores()} and "
                     "--repeats >= 1")
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401  (before pinning, so its threads are pinned too)
        except ImportError:
            with_torch = False
    info = runtime.pin_threads(args.threads)
    libraries, skipped = map_points.select_libraries(not args.no_libraries, with_torch)
    info["libraries"], broken = library_report.environment(libraries, args.threads)
    libraries = [name for name in libraries if name not in broken]  # loaded after pinning
    info["libraries_skipped"] = {**skipped, **broken}
    axes = dict(kernels=(1, 3, 7), channels=(4, 64), sizes=(8, 32)) if args.quick else \
        dict(kernels=KERNELS, channels=CHANNELS, sizes=SIZES)
    shard, keep = None, None
    if args.shard is not None:  # checked before anything is measured
        all_units = units(axes, cases)
        try:
            index, count = shards.parse(args.shard)
            if problem := shards.check_count(all_units, count, "points to split"):
                raise ValueError(problem)
        except ValueError as error:
            parser.error(str(error))
        mine = shards.split(all_units, index, count)
        shard = shards.record(index, count, mine, all_units, algorithms)
        cases = [c for c in cases if f"case {c.name}" in mine]
        keep = lambda panel, k, C, H: shards.point_unit(panel, k, C, H) in mine  # noqa: E731
    clock = SectionClock()  # the load while the points were timed, in the JSON and title
    with clock.section("map"):
        if cases:  # the user's layers instead of the sweeps
            axes = dict(kernels=(), channels=(), sizes=())
            points = []
            for c in cases:
                points.append(map_points.case_point(c, algorithms, libraries, with_torch,
                                                    args.repeats))
                print(map_points.case_line(points[-1]))
        panels = sweep(algorithms, with_torch, args.repeats, **axes, libraries=libraries,
                       keep=keep)
    if clock.sections["map"]["busy"]:
        print(f"BUSY: the load average reached {clock.sections['map']['load_max']:.1f} on "
              f"{os.cpu_count()} CPUs while the points were timed; the ratios are unreliable")
    result = dict(environment=dict(date=datetime.datetime.now(datetime.timezone.utc)
                                   .isoformat(timespec="seconds"), cpu=runtime.cpu_model(),
                                   command="python -m kernels map " + " ".join(argv),
                                   machine=peak.fingerprint(args.threads), **info),
                  sections=clock.sections,
                  batch=BATCH, kernels_axis=list(axes["kernels"]),
                  channels_axis=list(axes["channels"]), sizes_axis=list(axes["sizes"]),
                  panels=panels, cases=points if cases else [],
                  settings=dict(quick=args.quick, repeats=args.repeats, batch=BATCH,
                                dtype="float32", threads=args.threads, cpu=runtime.cpu_model(),
                                cores=os.cpu_count(), backends=list(algorithms),
                                libraries=list(libraries), torch=with_torch,
                                custom_cases=bool(args.case or args.cases_file)))
    if shard:
        result["shard"] = shard
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    if args.plot:
        (map_points.plot_cases if cases else heatmap)(result, args.plot)
        print(f"wrote {args.plot}")
    return 0
