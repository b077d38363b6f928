"""The roofline shows the libraries and plug-ins beside our algorithms, and its share label
is the roofline target's own figure (issue 23: the chart left out torch, jax, onnxruntime and
the plug-ins, and labelled "41 % of peak" where the same run's target line read 35.7 %).
Synthetic reports with the keys of docs/report-json.md."""

from __future__ import annotations

import re

import pytest

from kernels.bench.output import render
from kernels.bench.judging import shares, targets

FLOPS = dict(forward=1e9, backward=2e9)
BYTES = 1e8  # least traffic: 30 FLOPs per byte for the three passes
ENV = dict(dtype="float32", torch="2.13.0", cpu="cpu", threads=2, date="2026-12-06",
           peak_gflops=200.0)


def _case(name, blocked_gflops, case_set="std"):
    results = {
        "blocked": dict(role="algorithm", gflops=blocked_gflops, flops_per_byte=12.0,
                        workspace_bytes=1e6),
        "torch": dict(role="library", library=True, gflops=150.0, forward_gflops=160.0,
                      workspace_bytes=None, flops_per_byte=None),
        "onnxruntime": dict(role="library", library=True, gflops=None, forward_gflops=90.0,
                            workspace_bytes=None, flops_per_byte=None,
                            not_computed=["backward_data", "backward_weights"]),
        "myconv": dict(role="library", library=True, gflops=40.0, forward_gflops=50.0,
                       workspace_bytes=None, flops_per_byte=None),  # a plug-in
    }
    return dict(name=name, kind="conv", set=case_set, flops=FLOPS, bytes=BYTES,
                results=results)


def _report(cases):
    return dict(environment=ENV, settings=dict(dtype="float32", batch=None),
                gemm={"float32": dict(gflops=180.0)}, memory=dict(triad_gbs=30.0),
                cases=cases, train_steps=[], evaluate=[], sections={})


def test_the_libraries_and_plug_ins_are_points():
    points = shares.roofline_points([_case("std.a", 70.0)])
    by_backend = {p.backend: p for p in points}
    assert set(by_backend) == {"blocked", "torch", "onnxruntime", "myconv"}
    assert by_backend["blocked"] == ("std.a", "blocked", 12.0, 70.0, False, False)
    # their workspace is unseen: placed at the least traffic's intensity, 3e9 / 1e8
    assert by_backend["torch"] == ("std.a", "torch", 30.0, 150.0, True, False)
    assert by_backend["myconv"].library and by_backend["myconv"].gflops == 40.0
    assert by_backend["onnxruntime"] == ("std.a", "onnxruntime", 30.0, 90.0, True, True)


def test_a_forward_only_point_is_not_a_forward_and_backward_best():
    report = _report([_case("std.a", 70.0)])
    assert shares.best_point(report, "onnxruntime") is None
    assert shares.best_share_of_peak("torch")(report)[0] == pytest.approx(150.0 / 200.0)


@pytest.fixture
def figure_texts():
    pytest.importorskip("matplotlib")
    from kernels.bench.output import charts

    def texts(report):
        fig = charts.roofline_figure(report)
        ax = fig.axes[0]
        return [t.get_text() for t in ax.texts], ax.get_legend_handles_labels()[1]
    return texts


def test_the_roofline_draws_and_names_the_libraries(figure_texts):
    texts, legend = figure_texts(_report([_case("std.a", 70.0), _case("std.b", 20.0)]))
    assert legend == ["blocked", "torch (library)", "onnxruntime (library, forward only)",
                      "myconv (library)"]


def test_the_share_label_is_the_roofline_target_s_figure(figure_texts):
    """A user's own case (shown, never judged) where blocked is fastest: the chart labelled
    its share from every plotted point, the target reads the judged cases only; now both are
    one function's figure, printed alike."""
    report = _report([_case("std.a", 71.4), _case("std.b", 20.0),
                      _case("mine", 82.0, case_set="custom")])
    target = next(t for t in targets.TARGETS if t.label.startswith("roofline:"))
    row = target.check(report)
    texts, _ = figure_texts(report)
    (label,) = [t for t in texts if "of peak" in t]
    number = re.match(r"(\S+): (\S+%) of peak", label)
    assert number.groups() == ("std.a", render.measured(row)) == ("std.a", "35.7%")
