"""kernels.bench.targets and kernels.bench.columns on hand-made reports: every figure is read
from the right numbers, a missing one is 'not measured' (never a pass), the limit is applied
in the right direction, and "best" is chosen among the algorithms only."""

from __future__ import annotations

import pytest

from kernels.bench import columns, targets
from kernels.bench.targets import Target


def stats(ms):
    seconds = ms / 1e3
    return dict(median=seconds, p25=seconds, p75=seconds, min=seconds)


def result(forward_ms, backward_ms, **extra):
    """A conv result whose backward is split 3:1 between backward-data and -weights."""
    return dict(forward=stats(forward_ms), backward_data=stats(0.75 * backward_ms),
                backward_weights=stats(0.25 * backward_ms), **extra)


def report(results, name="convnet.conv2", flops=None, **sections):
    entry = dict(name=name, kind="conv", results=results)
    if flops is not None:
        entry["flops"] = flops
    return dict(environment=dict(dtype="float32"), gemm=dict(float32=dict(gflops=100.0)),
                cases=[entry], **sections)


def test_best_is_among_the_algorithms_only():
    """naive (the reference) and auto (a dispatcher) never count as the best backend, even
    when they are faster; torch is the yardstick, not a contender."""
    r = report({"naive": result(1, 1), "im2col": result(6, 14), "numba": result(10, 20),
                "auto": result(1, 1), "torch": result(5, 5)})
    value, note = targets.best_vs_torch("convnet.conv2")(r)
    assert value == pytest.approx(2.0) and note == "best: im2col"


def test_missing_figures_are_not_measured():
    empty = report({"im2col": result(1, 1)})
    for read in (targets.best_vs_torch("convnet.conv2"), targets.best_vs_torch("lenet5.c3"),
                 targets.backend_vs_best("numba", "convnet.conv2"),
                 targets.fastest_model_vs_torch("train_steps", "convnet", "step"),
                 targets.dispatcher_step_vs_best("convnet"),
                 targets.workspace_share_of_cap("im2col", "convnet.conv2")):
        assert read(empty)[0] is None
    rows = targets.check(empty)
    assert len(rows) == len(targets.TARGETS)
    assert all(row["met"] is None for row in rows if row["measured"] is None)


@pytest.mark.parametrize("value, higher, met", [(1.0, False, True), (1.01, False, False),
                                                (1.0, True, True), (0.99, True, False)])
def test_the_limit_is_inclusive_and_points_the_right_way(value, higher, met):
    target = Target("t", lambda report: (value, "note"), 1.0, higher_is_better=higher)
    row = target.check({})
    assert row == dict(target="t", measured=value, limit=1.0, unit="x", met=met, note="note")


def test_share_of_gemm_and_backward_over_forward():
    flops = dict(forward=2_000_000, backward=4_000_000)
    r = report({"im2col": result(0.04, 0.1), "numba": result(0.05, 0.08)}, flops=flops)
    columns.derive(r["cases"][0], r["gemm"]["float32"]["gflops"])
    # fastest forward: im2col, 2e6 FLOP in 40 us = 50 GF/s = 50 % of the 100 GF/s GEMM rate
    value, note = targets.conv_forward_share_of_gemm("convnet.conv2")(r)
    assert value == pytest.approx(0.5) and note.startswith("im2col")
    # fastest backward (numba, 0.08 ms) over fastest forward (im2col, 0.04 ms)
    value, note = targets.backward_over_forward("convnet.conv2")(r)
    assert value == pytest.approx(2.0) and note == "backward numba / forward im2col"


def test_dispatcher_step_is_compared_with_the_best_algorithm():
    steps = dict(arch="convnet", results={"im2col": dict(step=stats(10)),
                                          "numba": dict(step=stats(12)),
                                          "auto": dict(step=stats(8)),
                                          "torch": dict(step=stats(4))})
    r = report({}, train_steps=[steps])
    assert targets.dispatcher_step_vs_best("convnet")(r) == (pytest.approx(0.8),
                                                              "auto / best single: im2col")
    assert targets.fastest_model_vs_torch("train_steps", "convnet", "step")(r) == (
        pytest.approx(2.0), "fastest: auto")


def test_columns_derive_exact_ratios():
    """Every derived column from the same numbers: totals, GF/s over 3x the forward FLOPs,
    the share of the GEMM rate, the speed-up over the reference and the time over torch."""
    flops = dict(forward=1_000_000_000, backward=2_000_000_000)
    entry = dict(name="c", kind="conv", flops=flops,
                 results={"naive": result(3000, 5000), "im2col": result(10, 20),
                          "torch": result(5, 10)})
    columns.derive(entry, gemm_gflops=200.0)
    ours = entry["results"]["im2col"]
    assert ours["total_seconds"] == pytest.approx(0.03)
    assert ours["gflops"] == pytest.approx(100.0)          # 3 GFLOP in 30 ms
    assert ours["forward_gflops"] == pytest.approx(100.0)  # 1 GFLOP in 10 ms
    assert ours["peak_fraction"] == pytest.approx(0.5)
    assert ours["speedup_vs_naive"] == pytest.approx(8.0 / 0.03)
    assert ours["time_vs_torch"] == pytest.approx(2.0)
    headers, rows = columns.table(entry)
    assert headers[0] == "backend" and [r[0] for r in rows] == ["naive", "im2col", "torch"]
    assert all(len(r) == len(headers) for r in rows)
