"""`python -m kernels bench`, end to end: the report runs in-process through
kernels.bench.cli.main with the smallest settings that still exercise every part (the tiny
CNN's two layers, one repeat). It pins BLAS, Numba and PyTorch threads for the whole
process, so each run restores the previous thread counts afterwards
(`restored_process_state`). Timings are only checked for consistency (ordering, derived
ratios), never against a wall-clock threshold.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import kernels
import kernels.backends.auto as auto
import kernels.bench.cli as cli
import kernels.bench.measuring.layers as layers
import kernels.bench.report as report
from kernels.cases import all_cases

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


# ------------------------------------------------------------------ the report, end to end

@contextlib.contextmanager
def restored_process_state():
    """Undo what a report run changes in this process: thread counts of BLAS/OpenMP (via
    threadpoolctl), Numba and PyTorch, NUMBA_NUM_THREADS, and auto's decisions."""
    import numba
    from threadpoolctl import ThreadpoolController

    # Numba is imported from here on, so pin_threads lowers its count with set_num_threads
    # (undone below) instead of setting NUMBA_NUM_THREADS for the rest of the session.
    numba_threads = numba.get_num_threads()
    libraries = {lib.filepath: lib.num_threads for lib in ThreadpoolController().lib_controllers}
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    auto_state = (auto._decisions, auto._timings, auto.store._persistent)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CONVBENCH_AUTO_CACHE", raising=False)
        mp.setattr(auto, "_decisions", {})
        mp.setattr(auto, "_timings", {})
        mp.setattr(auto.store, "_persistent", None)
        try:
            yield
        finally:
            numba.set_num_threads(numba_threads)
            for lib in ThreadpoolController().lib_controllers:
                lib.set_num_threads(libraries.get(lib.filepath, os.cpu_count()))
            if torch_threads is not None:
                torch.set_num_threads(torch_threads)
            restored = {lib.filepath: lib.num_threads
                        for lib in ThreadpoolController().lib_controllers}
            assert {k: restored[k] for k in libraries} == libraries
            assert numba.get_num_threads() == numba_threads
            if torch_threads is not None:
                assert torch.get_num_threads() == torch_threads
    assert auto._decisions is auto_state[0] and auto._timings is auto_state[1]
    assert auto.store._persistent is auto_state[2]


def run_report(argv):
    """kernels.cli.main(argv) in this process: (exit code, stdout)."""
    out = io.StringIO()
    with restored_process_state(), contextlib.redirect_stdout(out):
        code = cli.main(argv)
    return code, out.getvalue()


TINY_FLOPS = 2 * 64 * 8 * 1 * 9 * 26 * 26  # tiny.conv: 1 -> 8 channels, 3x3, 28 -> 26


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """One report on the tiny CNN's layers and training step, three backends, no PyTorch."""
    directory = tmp_path_factory.mktemp("report")
    json_path, png_path = directory / "report.json", directory / "report.png"
    csv_path = directory / "report.csv"
    argv = ["--cases", "tiny", "--backends", "im2col,numba,auto", "--repeats", "1",
            "--sections", "conv,pool,train", "--json", str(json_path), "--plot", str(png_path),
            "--csv", str(csv_path), "--threads", "1", "--no-torch"]
    code, stdout = run_report(argv)
    assert code == 0
    return types.SimpleNamespace(argv=argv, stdout=stdout, directory=directory,
                                 data=json.loads(json_path.read_text()), json=json_path,
                                 png=png_path, csv=csv_path)


def _check_stats(stats, repeats=1):
    assert stats["repeats"] == repeats and stats["calls_per_sample"] >= 1
    assert 0 < stats["min"] <= stats["p25"] <= stats["median"] <= stats["p75"]


def test_report_files(tiny_report):
    assert sorted(os.listdir(tiny_report.directory)) == ["report.csv", "report.json",
                                                         "report.png"]
    assert tiny_report.png.read_bytes()[:8] == PNG_SIGNATURE
    assert f"wrote {tiny_report.json}" in tiny_report.stdout
    assert f"wrote {tiny_report.png}" in tiny_report.stdout


def test_report_environment(tiny_report):
    import numba

    env = tiny_report.data["environment"]
    assert isinstance(env["cpu"], str) and env["cpu"]
    assert env["cores"] == os.cpu_count()
    assert env["threads"] == 1 and env["numba_threads"] == 1
    assert env["numpy"] == np.__version__ and env["numba"] == numba.__version__
    assert env["torch"] is None and env["dtype"] == "float32"
    assert env["command"] == "python -m kernels bench " + " ".join(tiny_report.argv)
    assert isinstance(env["malloc_reuse"], bool)
    if GLIBC_LINUX:
        assert env["malloc_reuse"] is True
    assert isinstance(env["blas"], list) and env["blas"]
    assert all(b["num_threads"] == 1 for b in env["blas"])


def test_report_gemm_and_memory(tiny_report):
    gemm = tiny_report.data["gemm"]
    for dtype in ("float32", "float64"):
        assert gemm[dtype]["n"] > 0
        assert gemm[dtype]["best_gflops"] >= gemm[dtype]["gflops"] > 0
    memory = tiny_report.data["memory"]
    assert memory["triad_gbs"] > 0 and memory["copy_gbs"] > 0 and memory["megabytes"] >= 256


def test_report_cases(tiny_report):
    data = tiny_report.data
    cases = {c["name"]: c for c in data["cases"]}
    assert list(cases) == ["tiny.conv", "tiny.pool"]
    gemm = data["gemm"]["float32"]
    # the GEMM rate brackets the cases: % GEMM uses the higher of before and after
    assert gemm["bracket_gflops"] == max(gemm["gflops"], gemm["after_gflops"])
    peak = gemm["bracket_gflops"]
    for name, case in cases.items():
        assert case["kind"] == all_cases()[name].kind
        assert list(case["results"]) == ["im2col", "numba", "auto"]
        passes = ["forward", "backward_data"] + ["backward_weights"] * (case["kind"] == "conv")
        assert (case["set"], case["batch"], case["source"]) == (
            "mnist", 64, all_cases()[name].source)
        for backend, r in case["results"].items():
            for p in passes:
                _check_stats(r[p])
            assert "backward_weights" in r or case["kind"] == "pool"
            total = sum(r[p]["median"] for p in passes)
            assert r["total_seconds"] == pytest.approx(total, rel=1e-12)
            assert r["time_vs_torch"] is None and r["speedup_vs_naive"] is None
            assert isinstance(r["workspace_bytes"], int) and r["workspace_bytes"] >= 0
            assert ("chose" in r) == (backend == "auto")
        assert case["results"]["auto"]["chose"] in auto.candidates()
    conv = cases["tiny.conv"]
    assert conv["flops"] == {"forward": TINY_FLOPS, "backward": 2 * TINY_FLOPS}
    for r in conv["results"].values():
        assert r["gflops"] == pytest.approx(3 * TINY_FLOPS / r["total_seconds"] / 1e9,
                                            rel=1e-12)
        assert r["forward_gflops"] == pytest.approx(
            TINY_FLOPS / r["forward"]["median"] / 1e9, rel=1e-12)
        assert r["peak_fraction"] == pytest.approx(r["gflops"] / peak, rel=1e-12)
    assert conv["results"]["im2col"]["workspace_bytes"] > 0  # the columns, at least
    assert cases["tiny.pool"]["results"]["numba"]["gflops"] is None  # no FLOPs to count
    assert "flops" not in cases["tiny.pool"] and "bytes" not in cases["tiny.pool"]
    # x 64*1*28*28, w 8*1*3*3, y 64*8*26*26 float32, each read or written 3 times in all
    assert conv["bytes"] == 4 * 3 * (64 * 28 * 28 + 72 + 64 * 8 * 26 * 26)
    for backend, r in conv["results"].items():
        assert r["flops_per_byte"] == pytest.approx(
            3 * TINY_FLOPS / (conv["bytes"] + 2 * r["workspace_bytes"]), rel=1e-12)
        # float32 direct sums of 9 products: within the rounding bound, well above zero
        assert set(r["error"]) == {"y", "dx", "dw"}
        assert all(0 < e <= 10 for e in r["error"].values()), (backend, r["error"])


def test_report_csv(tiny_report):
    import csv

    rows = list(csv.DictReader(tiny_report.csv.open()))
    cases = {c["name"]: c for c in tiny_report.data["cases"]}
    case_rows = [r for r in rows if r["set"] != "models"]
    assert [(r["case"], r["backend"]) for r in case_rows] == [
        (c, b) for c in cases for b in cases[c]["results"]]
    for row in case_rows:
        result = cases[row["case"]]["results"][row["backend"]]
        assert float(row["forward_ms"]) == pytest.approx(result["forward"]["median"] * 1e3)
        assert float(row["total_ms"]) == pytest.approx(result["total_seconds"] * 1e3)
        if row["kind"] == "conv":
            assert float(row["error_dx"]) == pytest.approx(result["error"]["dx"])
        else:
            assert row["backward_weights_ms"] == "" and row["error_y"] == ""
    assert [r["kind"] for r in rows if r["set"] == "models"] == ["step"] * 3


def test_report_train_steps(tiny_report):
    data = tiny_report.data
    assert [e["name"] for e in data["train_steps"]] == ["tiny.train_step"]
    entry = data["train_steps"][0]
    assert entry["arch"] == "tiny"
    assert list(entry["results"]) == ["im2col", "numba", "auto"]
    for r in entry["results"].values():
        _check_stats(r["step"])
        assert r["time_vs_torch"] is None
    # the dispatcher's step with and without the first layer's dx, 3 pairs per repeat
    pair = entry["results"]["auto"]["first_layer_dx"]
    for key in ("skipped", "computed"):
        _check_stats(pair[key], repeats=3)
    assert "first_layer_dx" not in entry["results"]["im2col"]
    assert data["evaluate"] == []  # section not requested


def test_report_without_torch_says_so(tiny_report):
    data = tiny_report.data
    for entry in data["cases"] + data["train_steps"]:
        assert "torch" not in entry["results"]
    assert "PyTorch reference skipped: --no-torch" in tiny_report.stdout
    assert not any(line.split()[:1] == ["torch"] for line in tiny_report.stdout.splitlines())


@pytest.mark.frameworks
def test_report_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    json_path = tmp_path / "r.json"
    code, stdout = run_report(["--cases", "tiny.conv", "--backends", "im2col", "--repeats", "1",
                               "--sections", "conv", "--threads", "1", "--no-malloc-reuse",
                               "--json", str(json_path)])
    assert code == 0
    data = json.loads(json_path.read_text())
    env = data["environment"]
    assert env["torch"] == torch.__version__ and env["malloc_reuse"] is False
    assert env["torch_threads"] == 1
    (case,) = data["cases"]
    assert list(case["results"]) == ["im2col", "torch"]
    ours, theirs = case["results"]["im2col"], case["results"]["torch"]
    for p in ("forward", "backward_data", "backward_weights"):
        _check_stats(theirs[p])
    assert set(theirs["error"]) == {"y", "dx", "dw"}
    assert theirs["time_vs_torch"] == 1.0
    assert ours["time_vs_torch"] == pytest.approx(ours["total_seconds"] / theirs["total_seconds"],
                                                  rel=1e-12)
    assert theirs["gflops"] > 0
    assert "PyTorch reference skipped" not in stdout
    assert any(line.split()[:1] == ["torch"] for line in stdout.splitlines())


def test_the_contenders_of_a_case_and_of_a_step_take_turns(tmp_path, monkeypatch):
    """Every backend's passes (and PyTorch's) on a case are timed in one alternated
    measurement, as are the training steps; naive, minutes per step elsewhere, is timed
    apart, once per pass."""
    import kernels.bench.measuring.instruments as instruments

    calls = []
    real = instruments.measure_alternated

    def spy(contenders, repeats, **kwargs):
        if list(contenders) != ["fn"]:  # measure() of one thing: the GEMM rate, bandwidth
            calls.append(sorted(contenders, key=str))
        return real(contenders, repeats, **kwargs)
    monkeypatch.setattr(instruments, "measure_alternated", spy)
    code, _ = run_report(["--cases", "tiny.conv", "--backends", "naive,im2col,numba",
                          "--repeats", "1", "--sections", "conv,train", "--threads", "1",
                          "--no-torch", "--no-malloc-reuse", "--quick"])
    assert code == 0
    passes = ("backward_data", "backward_weights", "forward")
    assert calls == [[(b, p) for b in ("im2col", "numba") for p in passes],
                     ["im2col", "numba"]]


def test_report_quick_naive_is_extrapolated_from_four_images(tmp_path, monkeypatch):
    """--quick times naive on NAIVE_PROBE_BATCH = 4 images (checked on every call it
    receives) and scales to the batch; the row says so and has no workspace."""
    naive = kernels.get_backend("naive")
    batches = []
    for fn in ("conv2d_forward", "conv2d_backward"):
        real = getattr(naive, fn)

        def spy(first, *args, _real=real, **kwargs):
            batches.append(first.shape[0])
            return _real(first, *args, **kwargs)
        monkeypatch.setattr(naive, fn, spy)
    json_path = tmp_path / "q.json"
    code, stdout = run_report(["--cases", "tiny.conv", "--backends", "naive", "--quick",
                               "--repeats", "1", "--sections", "conv", "--threads", "1",
                               "--no-torch", "--no-malloc-reuse", "--json", str(json_path)])
    assert code == 0
    assert batches and set(batches) == {layers.REFERENCE_PROBE_BATCH} == {4}
    (case,) = json.loads(json_path.read_text())["cases"]
    r = case["results"]["naive"]
    assert r["note"] == "extrapolated from batch 4"
    assert r["workspace_bytes"] is None
    assert r["speedup_vs_naive"] == 1.0
    _check_stats(r["forward"])
    assert "naive *" in stdout and "* extrapolated from batch 4" in stdout


def test_a_backend_that_does_not_compute_a_layer_is_recorded_not_run(tmp_path):
    """winograd4x4 computes 3x3 kernels, not LeNet's 5x5 C1: the report names the reason
    and goes on, in the cases and in the workspace-cap section."""
    json_path = tmp_path / "u.json"
    code, stdout = run_report(["--cases", "lenet5.c1", "--backends", "winograd4x4,numba",
                               "--repeats", "1", "--sections", "conv", "--threads", "1",
                               "--no-torch", "--no-malloc-reuse", "--json", str(json_path)])
    assert code == 0
    data = json.loads(json_path.read_text())
    (case,) = data["cases"]
    assert list(case["results"]) == ["numba"]
    assert "up to 3x3" in case["unsupported"]["winograd4x4"]
    assert all(entry["backend"] != "winograd4x4" for entry in data["workspace_cap"])


# ------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("argv, bad", [
    (["--backends", "im2col,winograd"], "winograd"),
    (["--cases", "bogus"], "bogus"),
    (["--sections", "conv,bogus"], "bogus"),
    (["--threads", "0", "--cases", "tiny.conv"], "--threads"),
    (["--dtype", "float16"], "float16"),
    (["--backends", ""], "--backends ''"),
    (["--backends", "im2col,"], "empty name"),
    (["--cases", ""], "--cases ''"),
    (["--sections", ""], "--sections ''"),
    (["--threads", "4096"], "--threads 4096"),
], ids=["backend", "case", "section", "threads", "dtype", "no-backends", "empty-backend",
        "no-cases", "no-sections", "more-threads-than-cores"])
def test_bad_arguments_exit_2_naming_the_value(argv, bad, capsys, monkeypatch):
    def not_reached(*args, **kwargs):
        raise AssertionError("the report started despite a bad argument")
    monkeypatch.setattr(report.runtime, "pin_threads", not_reached)
    with pytest.raises(SystemExit) as info:
        cli.main(argv + ["--no-torch", "--no-malloc-reuse"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert bad in err and err.count("\n") == 1 and err.startswith("python -m kernels bench: error")


def test_bad_case_prefix_among_good_ones_is_an_error(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["--cases", "tiny,bogus"])
    with pytest.raises(SystemExit) as info:
        cli.plan_from(args, parser, [])
    assert info.value.code == 2 and "bogus" in capsys.readouterr().err


@pytest.mark.parametrize("repeats", ["0", "-1"])
def test_non_positive_repeats_is_an_error(repeats, monkeypatch, capsys):
    def reached(*args, **kwargs):
        raise RuntimeError("validation passed")
    monkeypatch.setattr(report.runtime, "pin_threads", reached)
    with pytest.raises(SystemExit) as info:
        cli.main(["--repeats", repeats, "--cases", "tiny.conv", "--no-torch",
                  "--no-malloc-reuse"])
    assert info.value.code == 2 and "--repeats" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_python_m_kernels_help_is_not_an_error(flag):
    result = subprocess.run([sys.executable, "-m", "kernels", flag], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and result.stderr == ""
    assert "usage: python -m kernels {bench," in result.stdout


@pytest.mark.parametrize("args", [[], ["train"], ["--quick"]], ids=["none", "train", "flag"])
def test_python_m_kernels_needs_the_bench_command(args):
    result = subprocess.run([sys.executable, "-m", "kernels", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    assert "usage: python -m kernels {bench," in result.stderr
    assert result.stdout == ""




def test_report_settings_and_sections(tiny_report):
    """What --compare needs to tell comparable reports apart, and how busy the machine was
    in each section (issue 17, findings 4 and 12)."""
    data = tiny_report.data
    assert data["settings"] == dict(schema=2, quick=False, repeats=1, batch=None,
                                    dtype="float32", threads=1, cpu=data["environment"]["cpu"],
                                    cores=os.cpu_count(), sections=["conv", "pool", "train"])
    assert set(data["sections"]) == {"machine", "conv", "pool", "train"}
    for section in data["sections"].values():
        assert section["wall_seconds"] > 0 and section["cpu_seconds"] >= 0
        assert section["cpu_per_wall"] == pytest.approx(section["cpu_seconds"] /
                                                        section["wall_seconds"])
        assert isinstance(section["busy"], bool)


def test_a_backend_not_computing_a_layer_is_shown_with_its_reason_everywhere(tmp_path):
    """Console, Markdown and CSV all name the backend and say why (issue 17, finding 3)."""
    md, csv_path = tmp_path / "u.md", tmp_path / "u.csv"
    code, stdout = run_report(["--cases", "lenet5.c1", "--backends", "winograd4x4,numba",
                               "--repeats", "1", "--sections", "conv", "--threads", "1",
                               "--no-torch", "--markdown", str(md), "--csv", str(csv_path)])
    assert code == 0
    for text in (stdout, md.read_text()):
        assert "winograd4x4 (not computed)" in text
        assert "winograd4x4 not computed: " in text and "up to 3x3" in text
    rows = [r for r in csv_path.read_text().splitlines() if ",winograd4x4," in r]
    assert len(rows) == 1 and "up to 3x3" in rows[0]


def test_nothing_the_user_asked_for_can_run_is_refused(capsys, monkeypatch):
    def not_reached(*args, **kwargs):
        raise AssertionError("the report started although nothing can run")
    monkeypatch.setattr(report.runtime, "pin_threads", not_reached)
    with pytest.raises(SystemExit) as info:
        cli.main(["--backends", "winograd2x2", "--cases", "std.strided", "--no-malloc-reuse"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert "winograd2x2" in err and "stride" in err


def test_a_float64_report_does_not_measure_its_error_against_float64(tmp_path):
    """No reference is more precise than float64 data: the error columns say n/a, not 0,
    and the targets are not judged (issue 17, finding 6)."""
    path = tmp_path / "f64.json"
    code, stdout = run_report(["--cases", "tiny.conv", "--backends", "im2col", "--dtype",
                               "float64", "--repeats", "1", "--sections", "conv",
                               "--threads", "1", "--no-torch", "--json", str(path)])
    assert code == 0
    data = json.loads(path.read_text())
    (case,) = data["cases"]
    assert case["results"]["im2col"]["error"] is None
    assert case["results"]["im2col"]["error_normwise"] is None
    assert "n/a" in stdout
    assert all(t["met"] is None for t in data["targets"])
    assert any(t["applicable"] is False and "float64" in t["note"] for t in data["targets"])


def test_layout_conversions_share_of_each_pass_is_reported(tmp_path):
    """blocked says which calls of each pass are layout conversions: the report times them
    in the same turns and gives their share of each pass in the JSON, the console, the
    Markdown and the CSV; a backend without conversions gets none."""
    import csv

    paths = {k: tmp_path / f"r.{k}" for k in ("json", "md", "csv")}
    code, stdout = run_report(["--case", "name=c,N=2,C=17,H=9,W=11,F=19,k=3,padding=1",
                               "--case", "name=dw,N=2,C=8,H=9,W=9,F=8,k=3,groups=8",
                               "--backends", "im2col,blocked", "--sections", "conv",
                               "--repeats", "1", "--threads", "1", "--no-torch",
                               "--json", str(paths["json"]), "--markdown", str(paths["md"]),
                               "--csv", str(paths["csv"])])
    assert code == 0
    report = json.loads(paths["json"].read_text())
    passes = ["forward", "backward_data", "backward_weights"]
    for case in report["cases"]:
        shares = case["results"]["blocked"]["conversion_share"]
        assert list(shares) == passes and all(s > 0 for s in shares.values()), shares
        assert "conversion_share" not in case["results"]["im2col"]
        assert f"blocked: layout conversions take {shares['forward']:.0%} of forward" in stdout
    assert "Layout conversions" in paths["md"].read_text()
    rows = [r for r in csv.DictReader(paths["csv"].open()) if r["backend"] == "blocked"]
    assert len(rows) == 2 and all(float(r["conversion_share_backward_data"]) > 0 for r in rows)
