"""The charts say what they show (issue 17, finding 9, and 7's off-scale errors): an infinite
error is drawn off the scale rather than dropped; the breakdown's labels and legend cover
nothing; the roofline names each backend's best and worst case; the map marks the cells
whose runner-up is within the noise band. Checked on the figures' own geometry."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from kernels.bench import algorithm_map  # noqa: E402
from kernels.bench.output import charts, map_heatmap  # noqa: E402
from kernels.bench.measuring.breakdown import COMPONENTS  # noqa: E402

ENV = dict(dtype="float32", torch="2.13.0", cpu="cpu", threads=2, date="2026-12-05")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [t.get_text() for t in fig.texts]


def _conv(name, gflops, errors, intensity=10.0):
    return dict(name=name, kind="conv", results={
        b: dict(gflops=g, error=dict(y=e, dx=e, dw=e), time_vs_torch=1.0,
                flops_per_byte=intensity * (i + 1)) for i, (b, g, e) in
        enumerate(zip(("im2col", "fft"), gflops, errors))})


def _report(cases):
    return dict(environment=ENV, gemm={"float32": dict(gflops=100.0)},
                memory=dict(triad_gbs=20.0), cases=cases, train_steps=[], evaluate=[])


def test_an_infinite_error_is_drawn_off_the_scale():
    fig = charts.plot_figure(_report([_conv("a", (10, 20), (0.5, float("inf"))),
                                      _conv("b", (12, 22), (0.4, 3.0))]))
    accuracy = fig.axes[1]
    assert [t.get_text() for t in accuracy.texts] == ["inf, off scale "]
    assert any(p.get_hatch() == "////" for p in accuracy.patches)


def test_the_roofline_names_each_backends_best_and_worst_case():
    cases = [_conv(n, (g, 2 * g), (1, 1)) for n, g in (("slow", 1.0), ("mid", 5.0),
                                                        ("fast", 50.0))]
    texts = _texts(charts.roofline_figure(_report(cases)))
    assert texts.count("fast") == 2 and texts.count("slow") == 2 and "mid" not in texts


def _boxes(fig, artists):
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def test_the_breakdown_labels_and_legend_cover_nothing():
    contenders = ["naive", "strided", "im2col", "numba", "winograd2x2", "winograd4x4",
                  "fft", "auto", "torch"]
    entry = dict(arch="convnet", results={c: {k: 1e-3 for k in (*COMPONENTS, "total")}
                                          for c in contenders})
    fig = charts.breakdown_figure(dict(breakdown=[entry]))
    fig.canvas.draw()
    (ax,) = fig.axes
    labels = _boxes(fig, ax.get_xticklabels())
    for first, second in zip(labels, labels[1:]):
        assert not first.overlaps(second)
    (legend,) = fig.legends
    legend_box = legend.get_window_extent(fig.canvas.get_renderer())
    assert not any(legend_box.overlaps(bar) for bar in _boxes(fig, ax.patches))


def test_the_map_marks_a_winner_within_the_noise():
    def point(k, margin):
        return dict(N=4, C=4, H=8, k=k, seconds={}, winner="im2col", margin=margin,
                    vs_torch=None)
    result = dict(environment=ENV, batch=4, kernels_axis=[1, 3], channels_axis=[4],
                  sizes_axis=[8], panels={"channels": [point(1, 1.1), point(3, 2.0)],
                                          "size": [point(1, 2.0), point(3, 2.0)]})
    texts = _texts(map_heatmap.heatmap_figure(result))
    assert sum("(noise)" in t for t in texts) == 2  # the cell and the title's key
    assert any("1.10x 2nd (noise)" in t for t in texts)


def test_the_roofline_draws_the_measured_peak_and_blocked_s_share_of_it():
    """With a measured peak: a line at it, labelled with the probe's terms, and blocked's
    best point labelled with the share the peak-share target reads; without one (a report
    with only the computed figure): neither."""
    from kernels.bench.judging import shares

    cases = [dict(name=n, kind="conv", set="std", results={
        "blocked": dict(gflops=g, flops_per_byte=20.0), "im2col": dict(gflops=90.0,
                                                                       flops_per_byte=5.0)})
        for n, g in (("slow", 8.0), ("fast", 83.0))]
    report = _report(cases)
    probe = dict(gflops=166.15, lanes=8, fma_units=2, clock_mhz=2596.134)
    report["environment"] = dict(ENV, peak_gflops=166.15, formula_peak_gflops=120.0,
                                 machine=dict(threads=2, peak={"float32": probe}))
    fig = charts.roofline_figure(report)
    texts = _texts(fig)
    assert " measured peak 166 GF/s (2 threads x 8 lanes x 2 FMA units x 2 x 2.60 GHz)" \
        in texts
    share = shares.best_share_of_peak("blocked")(report)[0]
    label = "fast: 50.0% of peak\n(the roofline target: blocked's best case, fwd+bwd)"
    assert label in texts and f"{share:.1%}" == "50.0%"
    assert "slow" in texts and sum("of peak" in t for t in texts) == 1  # blocked only
    assert any(list(line.get_ydata()) == [166.15, 166.15] for line in fig.axes[0].lines)
    report["environment"] = dict(ENV, vector_peak_gflops=166.15)  # a report of before
    texts = _texts(charts.roofline_figure(report))
    assert "fast" in texts and not any("peak" in t for t in texts)