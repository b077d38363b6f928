"""A wide spread is printed as its quartiles, not as median ±IQR (issue 23: `34.59 ±995.11`
read as a symmetric error bar reaching far below zero); a narrow one keeps the compact form.
Console and Markdown tables both come from columns.ms; the CSV keeps raw medians."""

from __future__ import annotations

from kernels.bench.judging import columns
from kernels.bench.output import markdown

WIDE = dict(median=0.03459, p25=0.03410, p75=1.02970)  # a long tail: 1 in 4 calls ~1 s
NARROW = dict(median=0.00126, p25=0.00122, p75=0.00131)


def test_a_wide_spread_shows_its_quartiles():
    assert columns.ms(WIDE) == "34.59 (34.10–1029.70)"
    assert "±" not in columns.ms(WIDE)


def test_a_narrow_spread_keeps_plus_minus_the_interquartile_range():
    assert columns.ms(NARROW) == "1.26 ±0.09"


def test_the_threshold_is_a_quarter_of_the_median():
    below = dict(median=0.004, p25=0.0035, p75=0.00446)  # IQR 24 % of the median
    above = dict(median=0.004, p25=0.0035, p75=0.00454)  # 26 %
    assert columns.ms(below) == "4.00 ±0.96" and columns.ms(above) == "4.00 (3.50–4.54)"


def _entry():
    result = dict(forward=WIDE, backward_data=NARROW, backward_weights=NARROW,
                  total_seconds=0.036, gflops=None, peak_fraction=None,
                  speedup_vs_naive=None, time_vs_torch=None, workspace_bytes=None)
    return dict(name="convnet.conv2", kind="conv", results={"im2col": result})


def test_the_console_and_markdown_tables_print_the_quartiles():
    _, rows = columns.table(_entry())
    assert rows[0][1:3] == ["34.59 (34.10–1029.70)", "1.26 ±0.09"]
    report = dict(environment=dict(command="python -m kernels bench", date="2026-12-06",
                                   cpu="cpu", cores=2, threads=2, numpy="2", numba="0.6",
                                   torch=None, dtype="float32", blas=[]),
                  gemm=dict(float32=dict(gflops=100.0), float64=dict(gflops=50.0)),
                  memory=dict(triad_gbs=30.0), cases=[_entry()], train_steps=[],
                  evaluate=[])
    assert "| convnet.conv2 | im2col | 34.59 (34.10–1029.70) | 1.26 ±0.09 |" in \
        markdown.markdown(report)
