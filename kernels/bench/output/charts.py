"""A report as pictures: the per-case chart (`--plot`) and the roofline (`--roofline`), with
one fixed colour per backend in every chart."""

from __future__ import annotations

from ... import available
from ...support.files import atomic_write


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def backend_colour(name):
    """A fixed colour per backend (its place in the registry; PyTorch black), so a backend
    looks the same in every chart, whichever others are in it."""
    import matplotlib.pyplot as plt

    if name == "torch":
        return "black"
    names = available()
    index = names.index(name) if name in names else len(names) + sum(map(ord, name))
    return plt.cm.tab10(index % 10)


def _worst_error(result):
    """The largest of the y, dx, dw errors (units of eps * sum|terms|), or None."""
    values = [v for v in (result.get("error") or {}).values() if v is not None]
    return max(values) if values else None


def _save(fig, path):
    import matplotlib.pyplot as plt

    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _off_scale(ax, positions, height, colour):
    """Bars for infinite values, drawn to the panel's right edge (ten times its largest
    finite value), hatched and labelled, so they read as off the scale, not as missing."""
    edge = ax.get_xlim()[1]
    for y in positions:
        ax.barh(y, edge, height, color="none", edgecolor=colour, hatch="////", lw=0.5)
        ax.text(edge, y, "inf, off scale ", ha="right", va="center", fontsize=6)


def plot(report, path):
    _save(plot_figure(report), path)


def plot_figure(report):
    """Three panels, one colour per backend, one legend: conv cases in GF/s against the GEMM
    limit; their accuracy (the worst of the y, dx, dw errors in units of eps * sum|terms|,
    an infinite one drawn off the scale); every case's time relative to PyTorch."""
    import math

    plt = _pyplot()
    convs = [c for c in report["cases"] if c["kind"] == "conv"]
    others = [c for c in report["cases"] if c["kind"] == "pool"] + report["train_steps"] + \
        report["evaluate"]
    backends = list(dict.fromkeys(b for c in convs + others for b in c["results"]))
    colors = {b: backend_colour(b) for b in backends}
    bar = 0.8 / max(1, len(backends))
    rows = max(len(convs), len(others), 1)
    fig, axes = plt.subplots(1, 3, figsize=(18, rows * (0.16 * len(backends) + 0.25) + 1.6))
    panels = ((axes[0], convs, lambda r: r.get("gflops"), "forward+backward GF/s (log scale)"),
              (axes[1], convs, _worst_error,
               "worst error of y, dx, dw in eps * sum|terms| (log scale)"),
              (axes[2], convs + others, lambda r: r.get("time_vs_torch"),
               "time relative to PyTorch (log scale; < 1 is faster)"))
    for ax, cases, value_of, label in panels:
        infinite = {}
        for i, case in enumerate(cases):
            for j, backend in enumerate(backends):
                value = value_of(case["results"].get(backend, {}))
                if value and math.isinf(value):
                    infinite.setdefault(backend, []).append(i + j * bar)
                elif value:
                    ax.barh(i + j * bar, value, bar, color=colors[backend])
        if infinite:
            ax.set_xscale("log")
            ax.set_xlim(right=ax.get_xlim()[1] * 10)
            for backend, positions in infinite.items():
                _off_scale(ax, positions, bar, colors[backend])
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
        axes[2].axvline(1.0, color="k", ls="--", lw=1)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[b]) for b in backends]
    fig.legend(handles, backends, loc="upper center", ncol=len(backends), frameon=False,
               bbox_to_anchor=(0.5, 0.98))
    env = report["environment"]
    fig.suptitle(f"convbench {env['dtype']} - {env['cpu']}, {env['threads']} threads, "
                 f"{env['date'][:10]}", fontsize=10, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def roofline(report, path):
    _save(roofline_figure(report), path)


def roofline_figure(report, peak_backend="blocked"):
    """Achieved GF/s of every backend on every conv case against its arithmetic intensity
    (FLOPs per byte moved, kernels.bench.judging.columns), under the two roofs measured in the same
    run: the GEMM rate (compute) and bandwidth x intensity (memory). A point under the
    slanted roof is limited by memory traffic; under the flat one, by arithmetic. Each
    backend's best and worst points carry their case's name. The libraries and plug-ins are
    diamonds at their least traffic's intensity (their workspace is unseen), hollow where
    they compute the forward pass alone (its GF/s). Where the report records it, a dashed
    line marks the measured FMA peak (kernels.support.peak: vector FMAs on every thread, at
    the clock the cores ran at) and `peak_backend`'s best point the share of it that the
    roofline target reads (shares.best_share_of_peak: the same function, the same figure).
    A report without a measured peak gets no line: a computed one is no denominator."""
    import numpy as np

    from ..judging.shares import best_point, best_share_of_peak, measured_peak, roofline_points

    plt = _pyplot()
    env = report["environment"]
    peak = report["gemm"][env["dtype"]]["gflops"]
    vector = measured_peak(report)
    bandwidth = report["memory"]["triad_gbs"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    points = roofline_points(report["cases"])
    intensities = [p.intensity for p in points] or [1.0]
    x = np.geomspace(min(intensities) / 2, max(intensities) * 2, 200)
    ax.plot(x, np.minimum(peak, bandwidth * x), "k-", lw=1.5)
    ax.text(x[-1], peak, f"GEMM {peak:.0f} GF/s ", ha="right", va="bottom", fontsize=8)
    share, anchor = (best_share_of_peak(peak_backend)(report)[0],
                     best_point(report, peak_backend)) if vector else (None, None)
    if vector:
        probe = env.get("machine", {}).get("peak", {}).get(env["dtype"], {})
        how = f" ({env['machine']['threads']} threads x {probe['lanes']} lanes x " \
            f"{probe['fma_units']} FMA units x 2 x {probe['clock_mhz'] / 1e3:.2f} GHz)" \
            if probe.get("clock_mhz") else ""
        ax.plot(x[[0, -1]], [vector, vector], color="0.35", ls="--", lw=1)
        ax.text(x[0], vector, f" measured peak {vector:.0f} GF/s{how}", va="bottom",
                fontsize=7, color="0.35")
    ridge = peak / bandwidth
    ax.text(x[0], bandwidth * x[0] * 1.15, f" {bandwidth:.0f} GB/s (triad)", fontsize=8,
            rotation=np.degrees(np.arctan(1.0)) * 0.6, va="bottom")
    ax.axvline(ridge, color="k", ls=":", lw=0.8)
    for group in dict.fromkeys((p.backend, p.forward_only) for p in points):
        _roofline_backend(ax, [p for p in points if (p.backend, p.forward_only) == group],
                          anchor)
    if share is not None and anchor is not None:
        ax.annotate(f"{anchor.case}: {share:.1%} of peak\n(the roofline target: "
                    f"{peak_backend}'s best case, fwd+bwd)", (anchor.intensity, anchor.gflops),
                    xytext=(-3, -2), textcoords="offset points", fontsize=5.5, ha="right",
                    va="top", color=backend_colour(peak_backend))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte: least traffic + 2 x workspace; "
                  "libraries: least traffic)")
    ax.set_ylabel("achieved GF/s (forward + backward, direct-convolution FLOPs)")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"roofline - {env['cpu']}, {env['threads']} threads, {env['dtype']}, "
                 f"{env['date'][:10]}", fontsize=9)
    fig.tight_layout()
    return fig


def _roofline_backend(ax, mine, labelled):
    """One backend's points, its best and worst named (except the point `labelled` already
    names): ours as dots, a library's as diamonds, hollow when forward-only."""
    first, colour = mine[0], backend_colour(mine[0].backend)
    label = first.backend if not first.library else \
        f"{first.backend} (library{', forward only' if first.forward_only else ''})"
    ax.scatter([p.intensity for p in mine], [p.gflops for p in mine], label=label,
               s=30 if first.library else 22, marker="D" if first.library else "o",
               color="none" if first.forward_only else colour,
               edgecolors=colour if first.library else "none", alpha=0.85)
    for point in {max(mine, key=lambda p: p.gflops), min(mine, key=lambda p: p.gflops)}:
        if point != labelled:
            ax.annotate(point.case, (point.intensity, point.gflops), xytext=(3, 2),
                        textcoords="offset points", fontsize=5.5, color=colour)


def breakdown(report, path):
    _save(breakdown_figure(report), path)


def breakdown_figure(report):
    """One stacked bar per contender and architecture: the training step's milliseconds by
    component, so the gap to PyTorch shows where it is. Bars wide apart and the legend
    outside the panels, so neither covers a name or a bar."""
    from ..measuring.breakdown import COMPONENTS

    plt = _pyplot()
    entries = report["breakdown"]
    width = max(4.0, 0.9 * max([len(e["results"]) for e in entries] + [1]) + 1)
    fig, axes = plt.subplots(1, max(1, len(entries)), figsize=(width * max(1, len(entries)), 5),
                             squeeze=False)
    colours = plt.cm.tab20.colors
    for ax, entry in zip(axes[0], entries):
        contenders = list(entry["results"])
        bottom = [0.0] * len(contenders)
        for i, component in enumerate(COMPONENTS):
            heights = [entry["results"][c][component] * 1e3 for c in contenders]
            ax.bar(contenders, heights, bottom=bottom, color=colours[i % 20], label=component)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_title(f"{entry['arch']} training step, batch 64", fontsize=9)
        ax.set_ylabel("ms")
        ax.tick_params(axis="x", labelsize=8)  # 0.9 inch per bar: room for "winograd2x2"
    fig.tight_layout()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center left", fontsize=7, frameon=False,
               bbox_to_anchor=(1.0, 0.5))  # beside the panels: saved with bbox "tight"
    return fig
