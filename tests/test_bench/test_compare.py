"""`python -m kernels bench --compare OLD NEW`: the change per case, backend and pass, judged
against a noise band built from the samples' own spread (never tighter than 25 %)."""

from __future__ import annotations

import json

import pytest

from kernels.bench import compare


def stats(median, spread=0.0):
    return dict(median=median, p25=median * (1 - spread / 2), p75=median * (1 + spread / 2),
                min=median * (1 - spread / 2))


def report(**results):
    return dict(environment=dict(date="2026-11-25T00:00:00+00:00"),
                cases=[dict(name="c", results=results)])


def test_verdicts_and_band():
    old = report(im2col=dict(forward=stats(10e-3, 0.1), backward_data=stats(10e-3, 0.1),
                             backward_weights=stats(10e-3)),
                 numba=dict(forward=stats(1e-3)))
    new = report(im2col=dict(forward=stats(13e-3, 0.1), backward_data=stats(14e-3, 0.4),
                             backward_weights=stats(5e-3)),
                 numba=dict(forward=stats(1e-3)), auto=dict(forward=stats(1e-3)))
    rows = {(r["backend"], r["step"]): r for r in compare.changes(old, new)}
    assert set(rows) == {("im2col", "forward"), ("im2col", "backward_data"),
                         ("im2col", "backward_weights"), ("numba", "forward")}
    fwd = rows["im2col", "forward"]
    assert fwd["ratio"] == pytest.approx(1.3) and fwd["band"] == pytest.approx(0.25)
    assert fwd["verdict"] == "slower"  # 1.3 > 1.25
    bwd = rows["im2col", "backward_data"]
    # spreads 10 % + 40 %: a 1.4x change is within the band 1 +- 0.5
    assert bwd["band"] == pytest.approx(0.5) and bwd["verdict"] == "same"
    assert bwd["ratio"] == pytest.approx(1.4)
    assert rows["im2col", "backward_weights"]["verdict"] == "faster"  # 0.5 < 1/1.25
    assert rows["numba", "forward"]["verdict"] == "same"


def test_an_extrapolated_row_is_not_compared_with_a_measured_one():
    old = report(naive=dict(forward=stats(10.0)), im2col=dict(forward=stats(1e-3)))
    new = report(naive=dict(forward=stats(9.0), note="extrapolated from batch 4"),
                 im2col=dict(forward=stats(1e-3)))
    assert [r["backend"] for r in compare.changes(old, new)] == ["im2col"]
    both = report(naive=dict(forward=stats(9.0), note="extrapolated from batch 4"))
    assert [r["backend"] for r in compare.changes(both, both)] == ["naive"]


def test_slower_within_a_wide_band_is_same():
    old = report(im2col=dict(forward=stats(10e-3, 0.6)))
    new = report(im2col=dict(forward=stats(16e-3, 0.6)))
    (row,) = compare.changes(old, new)
    assert row["band"] == pytest.approx(1.2) and row["verdict"] == "same"


def test_main_prints_and_refuses_bad_files(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report(im2col=dict(forward=stats(1e-3)))))
    b.write_text(json.dumps(report(im2col=dict(forward=stats(2e-3)))))
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out
    assert "2.00x" in out and "slower" in out and "1 timings compared: 0 faster, 1 slower" in out
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    for bad, words in (("bad.json", "is not JSON"), ("list.json", "is not a report"),
                       ("missing.json", "cannot read")):
        assert compare.main(tmp_path / bad, b) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err
