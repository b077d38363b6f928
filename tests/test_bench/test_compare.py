"""`python -m kernels bench --compare OLD NEW`: the change per case, backend and pass, judged
by a Mann-Whitney U test of the samples (Holm-corrected) and a least ratio of the medians, or
against a noise band built from the samples' spread (never tighter than 25 %) where a report
kept no samples; exit 1 on a regression; two machines compared only through figures relative
to each machine. All on synthetic reports: exact, no timing (the gate on real timings:
test_regression_gate.py)."""

from __future__ import annotations

import json

import pytest

from kernels.bench.judging import compare, significance


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
    assert compare.main(a, b) == 1  # slower beyond the band: a regression
    out = capsys.readouterr().out
    assert "2.00x" in out and "slower" in out and "1 timing compared: 0 faster, 1 slower" in out
    assert "band ±25%, no samples" in out and "judged by the noise band" in out
    assert out.rstrip().endswith("(exit 1)")
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


@pytest.mark.parametrize("change", [dict(quick=True), dict(schema=1),
                                    dict(threads=1), dict(dtype="float64"), dict(batch=8)],
                         ids=["quick", "schema", "threads", "dtype", "batch"])
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


# ------------------------------------------------------------------ samples and statistics
# (issue 22, item 1: a regression gate CI can trust)

def timing(samples):
    """A timing object as the report writes it, from its samples."""
    ordered = sorted(samples)
    n = len(ordered)
    return dict(median=ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2,
                p25=ordered[n // 4], p75=ordered[(3 * n) // 4], min=ordered[0], repeats=n,
                calls_per_sample=1, first_call=None, samples=list(samples))


BASE = [1e-3 * (1 + 0.002 * i) for i in range(15)]  # 15 samples, 1.000-1.028 ms, no ties


def test_summary_keeps_every_sample_to_four_digits():
    from kernels.bench.measuring import instruments

    stats = instruments.summary([0.0012345678, 0.002, 3.14159e-5])
    assert stats["samples"] == [0.001235, 0.002, 3.142e-05]
    assert stats["median"] == pytest.approx(0.0012345678)  # the statistics are not rounded


def test_mann_whitney_and_its_smallest_p_exactly():
    # all five of one side below all five of the other: the exact two-sided p is 2 / C(10, 5)
    assert significance.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert significance.smallest_p(5, 5) == pytest.approx(2 / 252)
    assert significance.smallest_p(15, 15) == pytest.approx(2 / 155117520)
    assert significance.mann_whitney([1, 1, 1], [1, 1, 1]) == 1.0
    # interleaved samples: no evidence of a difference
    assert significance.mann_whitney([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]) > 0.5


def test_holm_step_down_exactly():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06
    assert significance.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert significance.holm([0.5, 0.6]) == [1.0, 1.0]  # at most 1
    assert significance.holm([]) == []


def test_geometric_mean():
    assert significance.geometric_mean([2.0, 0.5]) == pytest.approx(1.0)
    assert significance.geometric_mean([1.21, 1.0, 1.0]) == pytest.approx(1.21 ** (1 / 3))


def gate_report(**backends):
    """One case, every backend's three passes from the given sample lists."""
    return report(**{b: {p: timing(s) for p in compare.PASSES} for b, s in backends.items()})


@pytest.mark.parametrize("factor, verdict, code", [
    (1.15, "slower", 1),   # significant and beyond 1.10
    (1.05, "same", 0),     # significant (every new sample above every old) but below 1.10
    (1 / 1.15, "faster", 0),
])
def test_the_gate_needs_significance_and_size(factor, verdict, code, tmp_path, capsys):
    a = write(tmp_path / "a.json", gate_report(im2col=BASE))
    b = write(tmp_path / "b.json", gate_report(im2col=[s * factor for s in BASE]))
    rows = compare.changes(json.loads(a.read_text()), json.loads(b.read_text()))
    assert {r["method"] for r in rows} == {"mann-whitney"} and len(rows) == 3
    assert all(r["p_holm"] == pytest.approx(3 * 2 / 155117520) for r in rows)
    assert {r["verdict"] for r in rows} == {verdict}
    assert compare.main(a, b) == code
    out = capsys.readouterr().out
    assert f"geometric mean of new/old: im2col {factor:.3f}x; all {factor:.3f}x" in out
    assert "(Holm)" in out and "judged by the noise band" not in out


def test_a_large_change_that_is_not_significant_is_no_regression(tmp_path, capsys):
    old = [1e-3 * (1 + 0.1 * i) for i in range(15)]          # 1.0-2.4 ms, very noisy
    new = old[:7] + [s * 1.5 for s in old[7:]]                # median 1.7 -> 2.55 ms (1.5x)
    a = write(tmp_path / "a.json", gate_report(im2col=old))
    b = write(tmp_path / "b.json", gate_report(im2col=new))
    rows = compare.changes(json.loads(a.read_text()), json.loads(b.read_text()))
    assert all(r["ratio"] > 1.10 and r["p_holm"] > 0.01 for r in rows)
    assert {r["verdict"] for r in rows} == {"same"}
    assert compare.main(a, b) == 0
    assert "no significant slowdown of ours beyond 1.10x (exit 0)" in capsys.readouterr().out


def test_holm_and_alpha_and_threshold_options(tmp_path, capsys):
    # 5 samples a side, all new above all old: p = 2/252 = 0.0079 for each of the 3 passes,
    # below 0.01 alone but not after Holm (x 3): no verdict, and a warning that none could be
    few_old, few_new = BASE[:5], [s * 1.5 for s in BASE[:5]]
    a = write(tmp_path / "a.json", gate_report(im2col=few_old))
    b = write(tmp_path / "b.json", gate_report(im2col=few_new))
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out
    assert "with 5 samples a side no change can be significant" in out
    assert compare.main(a, b, alpha=0.05) == 1  # 0.024 < 0.05: significant after Holm
    capsys.readouterr()
    big_old = write(tmp_path / "c.json", gate_report(im2col=BASE))
    big_new = write(tmp_path / "d.json", gate_report(im2col=[s * 1.15 for s in BASE]))
    assert compare.main(big_old, big_new, threshold=1.2) == 0  # 15 % is below a 20 % bar
    assert compare.main(big_old, big_new, threshold=1.1) == 1


def test_samples_missing_on_one_side_fall_back_to_the_band(tmp_path, capsys):
    old = report(im2col=dict(forward=stats(1e-3)))  # a report before issue 22
    a = write(tmp_path / "a.json", old)
    b = write(tmp_path / "b.json", report(im2col=dict(forward=timing([s * 1.15 for s in BASE]))))
    (row,) = compare.changes(json.loads(a.read_text()), json.loads(b.read_text()))
    assert row["method"] == "band" and row["verdict"] == "same"  # 1.15 is inside +-25 %
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out
    assert "1 timing without samples on one side" in out and "band ±25%, no samples" in out


@pytest.mark.parametrize("argv, words", [
    (["--threshold", "0.9"], "--threshold 0.9: must be above 1"),
    (["--threshold", "nan"], "must be above 1"),
    (["--alpha", "0"], "--alpha 0: must be between 0 and 1"),
    (["--alpha", "1.5"], "must be between 0 and 1"),
    (["--machines", "c.json"], "--compare and --machines"),
])
def test_gate_options_are_checked(argv, words, tmp_path, capsys):
    from kernels.bench import cli

    a = write(tmp_path / "a.json", gate_report(im2col=BASE))
    with pytest.raises(SystemExit) as info:
        cli.main(["--compare", str(a), str(a), *argv])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and words in err


@pytest.mark.parametrize("argv", [["--threshold", "1.2"], ["--alpha", "0.05"], ["--force"]])
def test_gate_options_apply_only_to_compare(argv, capsys):
    from kernels.bench import cli

    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "only to --compare" in err


def test_the_cli_returns_the_gate_exit_status(tmp_path, capsys):
    from kernels.bench import cli

    a = write(tmp_path / "a.json", gate_report(im2col=BASE))
    b = write(tmp_path / "b.json", gate_report(im2col=[s * 1.15 for s in BASE]))
    assert cli.main(["--compare", str(a), str(b)]) == 1
    assert cli.main(["--compare", str(a), str(b), "--threshold", "1.2"]) == 0
    assert cli.main(["--compare", str(b), str(a)]) == 0  # faster is no regression


# ------------------------------------------------------------------ two machines
# (issue 21, item 4: compared through figures relative to each machine, no verdict)

def machine_report(cpu, *, peak=None, machine_id=None, ours=1e-3, torch=0.5e-3, jax=0.4e-3):
    """One conv case (1 GFLOP over the three passes): im2col, and the frameworks."""
    results = dict(im2col=dict(forward=timing([s * ours / 1e-3 for s in BASE]),
                               total_seconds=ours, role="algorithm"),
                   torch=dict(total_seconds=torch, library=True, role="library"),
                   onnxruntime=dict(total_seconds=None, library=True, role="library"))
    if jax is not None:
        results["jax"] = dict(total_seconds=jax, library=True, role="library")
    env = dict(date="2026-12-06T00:00:00+00:00", cpu=cpu, cores=2, dtype="float32")
    if peak is not None:
        env["peak_gflops"] = peak
    if machine_id is not None:
        env["machine"] = dict(id=machine_id, vendor="V", model=cpu, cores=2)
    return dict(environment=env, settings=settings(cpu=cpu),
                cases=[dict(name="c", kind="conv", flops=dict(forward=1e9 / 3,
                                                              backward=2e9 / 3),
                            results=results)])


def test_measured_peak_is_read_only_where_measured():
    from kernels.bench.judging.machines import measured_peak

    assert measured_peak(machine_report("A", peak=250.0)) == 250.0
    nested = machine_report("A")
    nested["environment"]["machine"] = dict(id="x", peak=dict(float32=dict(gflops=300.0),
                                                              float64=dict(gflops=150.0)))
    assert measured_peak(nested) == 300.0
    nested["environment"]["dtype"] = "float64"
    assert measured_peak(nested) == 150.0
    old = machine_report("A")
    old["environment"]["vector_peak_gflops"] = 134.4  # assumed, not measured: not used
    assert measured_peak(old) is None
    for bad in (None, "fast", 0, -1.0, True, {}):
        assert measured_peak(dict(environment=dict(peak_gflops=bad))) is None
    assert measured_peak({}) is None


def test_two_machines_are_compared_through_their_own_figures(tmp_path, capsys):
    a = write(tmp_path / "a.json", machine_report("cpu A"), cpu="cpu A")
    b = write(tmp_path / "b.json", machine_report("cpu B", peak=250.0, ours=2e-3, torch=1e-3,
                                                  jax=None), cpu="cpu B")
    assert compare.main(a, b) == 0  # not refused, no verdict
    out = capsys.readouterr().out
    assert "different machines" in out and "no regression verdict is given (exit 0)" in out
    line = next(l for l in out.splitlines() if l.strip().startswith("c ") and "im2col" in l)
    # A: no measured peak, 1 ms over jax's 0.4 ms; B: 1 GFLOP / 2 ms = 500 GF/s... of 250
    assert "n/a: no measured peak, 2.50x jax" in line and "200% of peak, 2.00x torch" in line
    assert " ms" not in line and "slower" not in out and "faster" not in out
    assert "a.json: no measured peak" in out and "b.json: measured peak 250.0 GF/s" in out


def test_a_differing_fingerprint_makes_two_machines(tmp_path, capsys):
    a = write(tmp_path / "a.json", machine_report("cpu A", machine_id="one"), cpu="cpu A")
    b = write(tmp_path / "b.json", machine_report("cpu A", machine_id="two", ours=5e-3),
              cpu="cpu A")
    assert compare.main(a, b) == 0
    assert "different machines" in capsys.readouterr().out
    same = write(tmp_path / "c.json", machine_report("cpu A", machine_id="one", ours=5e-3),
                 cpu="cpu A")
    assert compare.main(a, same) == 1  # the same fingerprint: judged (5x slower)
    assert "regression" in capsys.readouterr().out


def test_a_slower_library_does_not_fail_the_gate(tmp_path, capsys):
    old = gate_report(im2col=BASE, torch=BASE)
    new = gate_report(im2col=BASE, torch=[s * 1.5 for s in BASE])
    for case in (old, new):
        case["cases"][0]["results"]["torch"]["library"] = True
    a, b = write(tmp_path / "a.json", old), write(tmp_path / "b.json", new)
    assert compare.main(a, b) == 0
    out = capsys.readouterr().out
    assert "3 slower timings of libraries (not our code, not counted" in out
    assert "no significant slowdown of ours beyond 1.10x (exit 0)" in out
    new["cases"][0]["results"]["im2col"] = {p: timing([s * 1.5 for s in BASE])
                                            for p in compare.PASSES}
    b = write(tmp_path / "b.json", new)
    assert compare.main(a, b) == 1
    assert "regression: 3 timings of ours slower beyond 1.10x (exit 1)" in \
        capsys.readouterr().out


def test_a_single_timed_call_is_judged_by_the_band():
    one = dict(median=9.0, p25=9.0, p75=9.0, min=9.0, repeats=1, calls_per_sample=1,
               first_call=9.0, samples=[9.0])  # what measure_once records (naive)
    old = report(naive=dict(forward=one))
    new = report(naive=dict(forward=dict(one, median=12.0, p25=12.0, p75=12.0,
                                         samples=[12.0])))
    (row,) = compare.changes(old, new)
    assert row["method"] == "band" and row["verdict"] == "slower"  # 1.33 > 1.25


def test_a_regression_measured_while_busy_says_so(tmp_path, capsys):
    old = dict(gate_report(im2col=BASE), sections={"conv": {"busy": True}})
    old["cases"][0]["kind"] = "conv"
    new = dict(gate_report(im2col=[s * 1.5 for s in BASE]), sections={"conv": {"busy": False}})
    new["cases"][0]["kind"] = "conv"
    a, b = write(tmp_path / "a.json", old), write(tmp_path / "b.json", new)
    assert compare.main(a, b) == 1  # still a regression
    assert "every one measured while a machine was busy: confirm on a quiet one" in \
        capsys.readouterr().out
