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
    assert "2.00x" in out and "slower" in out and "1 timing compared: 0 faster, 1 slower" in out
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    for bad, words in (("bad.json", "is not JSON"), ("list.json", "is not a report"),
                       ("missing.json", "cannot read")):
        assert compare.main(tmp_path / bad, b) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err


# ------------------------------------------------------------------ settings (issue 17, 4)

def settings(**changes):
    return dict(dict(schema=2, cpu="cpu A", cores=2, threads=2, dtype="float32", batch=None,
                     quick=False, repeats=15, sections=["conv"]), **changes)


def write(path, report_dict, **setting_changes):
    path.write_text(json.dumps(dict(report_dict, settings=settings(**setting_changes))))
    return path


@pytest.mark.parametrize("change", [dict(cpu="cpu B"), dict(quick=True), dict(schema=1),
                                    dict(threads=1), dict(dtype="float64"), dict(batch=8)],
                         ids=["cpu", "quick", "schema", "threads", "dtype", "batch"])
def test_reports_measured_differently_are_refused_unless_forced(change, tmp_path, capsys):
    one = report(im2col=dict(forward=stats(1e-3)))
    a, b = write(tmp_path / "a.json", one), write(tmp_path / "b.json", one, **change)
    assert compare.main(a, b) == 2
    err = capsys.readouterr().err
    (key, value), = change.items()
    assert err.count("\n") == 1 and f"{key}: " in err and "--force" in err
    assert compare.main(a, b, force=True) == 0
    assert f"{key}: " in capsys.readouterr().out.splitlines()[1]  # stated in the header


def test_a_report_without_settings_is_of_schema_1(tmp_path, capsys):
    one = report(im2col=dict(forward=stats(1e-3)))
    old = tmp_path / "old.json"
    old.write_text(json.dumps(one))
    assert compare.main(old, write(tmp_path / "new.json", one)) == 2
    assert "schema: 1 -> 2" in capsys.readouterr().err


def test_nothing_in_common_is_an_error(tmp_path, capsys):
    a = write(tmp_path / "a.json", report(im2col=dict(forward=stats(1e-3))))
    b = write(tmp_path / "b.json", report(numba=dict(forward=stats(1e-3))))
    assert compare.main(a, b) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing to compare" in err


def test_a_busy_section_marks_its_verdicts(tmp_path, capsys):
    one = dict(report(im2col=dict(forward=stats(1e-3))))
    one["cases"][0]["kind"] = "conv"
    a = write(tmp_path / "a.json", one)
    b = write(tmp_path / "b.json", dict(one, sections={"conv": {"busy": True}}))
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out
    assert "same (busy)" in out and "1 timing compared" in out


def test_compare_refuses_the_flags_it_does_not_use(capsys):
    from kernels.bench import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["--compare", "a.json", "b.json", "--quick", "--backends", "im2col"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert "--backends" in err and "--quick" in err
