"""`python -m kernels bench` and what it is built from: kernels.cases, kernels.bench,
kernels.runtime, kernels.files.

The report runs in-process through kernels.report.main with the smallest settings that still
exercise every part (the tiny CNN's two layers, one repeat). It pins BLAS, Numba and PyTorch
threads for the whole process, so each run restores the previous thread counts afterwards
(`restored_process_state`); the checks of kernels.runtime itself run in subprocesses.
Timings are only checked for consistency (ordering, derived ratios), never against a
wall-clock threshold.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import math
import os
import platform
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import kernels
import kernels.auto
import kernels.bench as bench
import kernels.report as report
from kernels.cases import (ARCHITECTURES, CONV_CASES, POOL_CASES, QUICK_CASES, all_cases,
                           practical)
from kernels.files import atomic_write, writable_problem

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


# ------------------------------------------------------------------ kernels.cases

# name: (N, C, F, kh*kw, groups, Ho = Wo worked out by hand from H, k, stride, padding)
#   Ho = (H + 2*padding - k) // stride + 1
CONV_EXPECTED = {
    "convnet.conv1": (64, 1, 32, 9, 1, 28),     # (28 + 2 - 3) // 1 + 1
    "convnet.conv2": (64, 32, 64, 9, 1, 14),    # (14 + 2 - 3) // 1 + 1
    "lenet5.c1": (64, 1, 6, 25, 1, 28),         # (28 + 4 - 5) // 1 + 1
    "lenet5.c3": (64, 6, 16, 25, 1, 10),        # (14 + 0 - 5) // 1 + 1
    "tiny.conv": (64, 1, 8, 9, 1, 26),          # (28 + 0 - 3) // 1 + 1
    "std.1x1": (64, 64, 64, 1, 1, 14),          # (14 + 0 - 1) // 1 + 1
    "std.strided": (64, 32, 64, 9, 1, 14),      # (28 + 2 - 3) // 2 + 1
    "std.grouped": (64, 64, 64, 9, 4, 14),      # (14 + 2 - 3) // 1 + 1
    "std.depthwise": (64, 64, 64, 9, 64, 14),   # (14 + 2 - 3) // 1 + 1
    "std.3x3x64": (64, 64, 64, 9, 1, 28),       # (28 + 2 - 3) // 1 + 1
}
# a few totals spelled out: 2 * N * F * (C/groups) * kh*kw * Ho*Wo
CONV_FLOPS_SPELLED_OUT = {
    "tiny.conv": 6_230_016,        # 2 * 64 * 8 * 1 * 9 * 676
    "convnet.conv2": 462_422_016,  # 2 * 64 * 64 * 32 * 9 * 196
    "std.depthwise": 14_450_688,   # 2 * 64 * 64 * 1 * 9 * 196
}
# name: (op, N, C, H, Ho) with the default stride = kernel size 2: Ho = H // 2
POOL_EXPECTED = {
    "convnet.pool1": ("max", 64, 32, 28, 14),
    "convnet.pool2": ("max", 64, 64, 14, 7),
    "lenet5.s2": ("avg", 64, 6, 28, 14),
    "lenet5.s4": ("avg", 64, 16, 10, 5),
    "tiny.pool": ("max", 64, 8, 26, 13),
}
NAIVE_TOO_SLOW = {"std.1x1", "std.strided", "std.grouped", "std.depthwise", "std.3x3x64"}


def test_every_case_has_an_expected_row():
    assert set(CONV_CASES) == set(CONV_EXPECTED)
    assert set(POOL_CASES) == set(POOL_EXPECTED)
    assert all_cases() == {**CONV_CASES, **POOL_CASES}


@pytest.mark.parametrize("name", list(CONV_EXPECTED))
def test_conv_case_flops(name):
    N, C, F, taps, groups, Ho = CONV_EXPECTED[name]
    expected = 2 * N * F * (C // groups) * taps * Ho * Ho
    if name in CONV_FLOPS_SPELLED_OUT:
        assert expected == CONV_FLOPS_SPELLED_OUT[name]
    case = CONV_CASES[name]
    assert case.flops_forward == expected
    assert case.flops_backward == 2 * expected
    assert case.geometry().y_shape == (N, F, Ho, Ho)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(CONV_EXPECTED))
def test_conv_case_arrays(name, dtype):
    N, C, F, taps, groups, Ho = CONV_EXPECTED[name]
    case = CONV_CASES[name]
    k = math.isqrt(taps)
    x, w, b, dy = case.arrays(dtype)
    assert x.shape == (N, C, case.H, case.H)
    assert w.shape == (F, C // groups, k, k)
    assert b.shape == (F,)
    assert dy.shape == (N, F, Ho, Ho)
    for a in (x, w, b, dy):
        assert a.dtype == np.dtype(dtype) and a.flags.c_contiguous
        assert np.isfinite(a).all() and a.std() > 0.5  # unit variance, not zeros
    again = case.arrays(dtype)
    for a, a2 in zip((x, w, b, dy), again):
        np.testing.assert_array_equal(a, a2, strict=True)  # seeded
    assert not np.array_equal(case.arrays(dtype, seed=1)[0], x)


@pytest.mark.parametrize("name", list(POOL_EXPECTED))
def test_pool_case_arrays(name):
    op, N, C, H, Ho = POOL_EXPECTED[name]
    case = POOL_CASES[name]
    assert case.op == op and case.k == 2 and case.kind == "pool"
    x, dy = case.arrays()
    assert x.shape == (N, C, H, H) and dy.shape == (N, C, Ho, Ho)
    assert x.dtype == dy.dtype == np.float32
    assert case.arrays(np.float64)[0].dtype == np.float64
    np.testing.assert_array_equal(case.arrays()[0], x, strict=True)


def test_practical_excludes_naive_only_where_naive_is_too_slow():
    slow = {name for name, case in all_cases().items() if not case.naive_ok}
    assert slow == NAIVE_TOO_SLOW
    for name, case in all_cases().items():
        for backend in kernels.available():
            expected = backend != "naive" or name not in NAIVE_TOO_SLOW
            assert practical(case, backend) is expected, (name, backend)


def test_quick_cases_and_architectures_exist():
    assert len(QUICK_CASES) == len(set(QUICK_CASES)) > 0
    for name in QUICK_CASES:
        assert name in all_cases()
        assert name.startswith("convnet.")
    for arch in ARCHITECTURES:
        assert any(n.startswith(arch + ".") for n in CONV_CASES), arch
    assert all(c.mnist for c in CONV_CASES.values() if c.name.split(".")[0] in ARCHITECTURES)


# ------------------------------------------------------------------ kernels.bench

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_measure_statistics_on_a_fake_clock(monkeypatch):
    """Durations in exact binary fractions of a second: warm-up (reported as first_call), one probe call
    of 2**-11 s (< 2 ms, so ceil(2e-3 / 2**-11) = 5 calls per sample), then 4 samples whose
    calls take 3, 1, 4, 2 units of 2**-10 s. numpy's linear percentiles of 1, 2, 3, 4 units
    are 1.75, 2.5 and 3.25."""
    clock = FakeClock()
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    unit = 2.0**-10
    durations = [1.0, 2.0**-11] + [t * unit for t in (3, 1, 4, 2) for _ in range(5)]
    calls = []

    def fn():
        clock.now += durations[len(calls)]
        calls.append(1)
    stats = bench.measure(fn, 4)
    assert len(calls) == len(durations) == 22
    assert stats == dict(median=2.5 * unit, p25=1.75 * unit, p75=3.25 * unit, min=1 * unit,
                         repeats=4, calls_per_sample=5, first_call=1.0)


def test_measure_slow_calls_are_sampled_one_by_one(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    durations = iter([0.5, 0.25, 0.125, 0.375, 0.25])  # warm-up, probe, 3 samples

    def fn():
        clock.now += next(durations)
    stats = bench.measure(fn, 3, warmup=1)
    assert stats == dict(median=0.25, p25=0.1875, p75=0.3125, min=0.125, repeats=3,
                         calls_per_sample=1, first_call=0.5)


def test_measure_re_enables_gc_when_fn_fails():
    state = {"n": 0}

    def fn():
        state["n"] += 1
        if state["n"] > 3:
            raise RuntimeError("boom")
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        bench.measure(fn, 5, warmup=1)
    assert gc.isenabled()


def test_measure_real_clock():
    stats = bench.measure(lambda: sum(range(200)), 7)
    assert stats["repeats"] == 7 and stats["calls_per_sample"] >= 1
    assert 0 < stats["min"] <= stats["p25"] <= stats["median"] <= stats["p75"]


def test_gemm_peak_is_positive():
    result = bench.gemm_peak(np.float32, 3, n=96)
    assert result["n"] == 96
    assert result["gflops"] > 0 and result["best_gflops"] > 0
    assert result["best_gflops"] >= result["gflops"]  # best sample vs median sample


def test_workspace_bytes_counts_temporaries_not_results():
    """A 1 MiB temporary freed before returning a 8000-byte result: the workspace is the
    temporary (the peak), less nothing - the result is subtracted only once."""
    def run():
        tmp = np.ones(2**17)  # 1 MiB of float64
        out = tmp[:1000].copy()
        del tmp
        return (out, None)
    used = bench.workspace_bytes(run)
    assert 2**20 <= used <= 2**20 + 64 * 1024


# ------------------------------------------------------------------ kernels.files

def test_atomic_write_replaces_the_content(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.json"]


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    """mkstemp creates 0600 files; the result must get what open() would give (0666 minus
    the umask) for a new file, and keep an existing file's mode when it replaces one."""
    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.bin"
        atomic_write(new, lambda f: f.write(b"x"))
        assert new.stat().st_mode & 0o777 == 0o644
        old = tmp_path / "old.bin"
        old.write_bytes(b"old")
        old.chmod(0o640)
        atomic_write(old, lambda f: f.write(b"new"))
        assert old.stat().st_mode & 0o777 == 0o640 and old.read_bytes() == b"new"
    finally:
        os.umask(umask)


def test_writable_problem_names_the_reason(tmp_path):
    assert writable_problem(tmp_path / "ok.json") is None
    assert "is a directory" in writable_problem(tmp_path)
    assert "does not exist" in writable_problem(tmp_path / "missing" / "x.json")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_write_failure_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "out.json"
    target.write_text("old content")

    def write(f):
        f.write(b"half of the new")
        raise error("in the middle")
    with pytest.raises(error):
        atomic_write(target, write)
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["out.json"], "no temporary file left"


def test_atomic_write_failure_creates_nothing(tmp_path):
    def write(f):
        raise OSError("disk full")
    with pytest.raises(OSError):
        atomic_write(tmp_path / "new.png", write)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ kernels.runtime

def _python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


RUNTIME_PROBE = """
import json, os, sys
{pre}
from kernels import runtime
reuse = runtime.reuse_freed_memory()
info = runtime.pin_threads(1)
env = os.environ.get("NUMBA_NUM_THREADS")
from threadpoolctl import threadpool_info
import numba
print(json.dumps(dict(reuse=reuse, info=info, env=env, numba=numba.get_num_threads(),
                      blas=[d["num_threads"] for d in threadpool_info()
                            if d["user_api"] == "blas"])))
"""


def _probe_runtime(pre):
    result = _python(RUNTIME_PROBE.format(pre=pre))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("pre", ["import numpy", "import numpy, numba"],
                         ids=["numba-imported-later", "numba-already-imported"])
def test_pin_threads_and_malloc_in_a_subprocess(pre):
    """pin_threads(1) pins BLAS (threadpoolctl then sees 1 thread) and Numba, whether Numba
    is imported later (through NUMBA_NUM_THREADS) or already (through set_num_threads), and
    reports both; reuse_freed_memory() is a bool, True with glibc. In a subprocess: both
    last for the rest of the process."""
    out = _probe_runtime(pre)
    assert isinstance(out["reuse"], bool)
    if GLIBC_LINUX:
        assert out["reuse"] is True
    info = out["info"]
    assert info["threads"] == 1 and info["numba_threads"] == 1
    assert isinstance(info["blas"], list) and info["blas"], info["blas"]
    assert all(b["num_threads"] == 1 and b["internal_api"] for b in info["blas"])
    assert out["blas"] and set(out["blas"]) == {1}
    assert out["numba"] == 1
    assert out["env"] == (None if "numba" in pre else "1")


def test_pin_threads_first_thing_in_a_program_pins_blas():
    out = _probe_runtime("")
    assert out["info"]["blas"] and set(out["blas"]) == {1}


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
    auto_state = (kernels.auto._decisions, kernels.auto._timings, kernels.auto._persistent)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CONVBENCH_AUTO_CACHE", raising=False)
        mp.setattr(kernels.auto, "_decisions", {})
        mp.setattr(kernels.auto, "_timings", {})
        mp.setattr(kernels.auto, "_persistent", None)
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
    assert kernels.auto._decisions is auto_state[0] and kernels.auto._timings is auto_state[1]
    assert kernels.auto._persistent is auto_state[2]


def run_report(argv):
    """kernels.report.main(argv) in this process: (exit code, stdout)."""
    out = io.StringIO()
    with restored_process_state(), contextlib.redirect_stdout(out):
        code = report.main(argv)
    return code, out.getvalue()


TINY_FLOPS = 2 * 64 * 8 * 1 * 9 * 26 * 26  # tiny.conv: 1 -> 8 channels, 3x3, 28 -> 26


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """One report on the tiny CNN's layers and training step, three backends, no PyTorch."""
    directory = tmp_path_factory.mktemp("report")
    json_path, png_path = directory / "report.json", directory / "report.png"
    argv = ["--cases", "tiny", "--backends", "im2col,numba,auto", "--repeats", "1",
            "--sections", "conv,pool,train", "--json", str(json_path), "--plot", str(png_path),
            "--threads", "1", "--no-torch"]
    code, stdout = run_report(argv)
    assert code == 0
    return types.SimpleNamespace(argv=argv, stdout=stdout, directory=directory,
                                 data=json.loads(json_path.read_text()), json=json_path,
                                 png=png_path)


def _check_stats(stats, repeats=1):
    assert stats["repeats"] == repeats and stats["calls_per_sample"] >= 1
    assert 0 < stats["min"] <= stats["p25"] <= stats["median"] <= stats["p75"]


def test_report_files(tiny_report):
    assert sorted(os.listdir(tiny_report.directory)) == ["report.json", "report.png"]
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


def test_report_gemm(tiny_report):
    gemm = tiny_report.data["gemm"]
    for dtype in ("float32", "float64"):
        assert gemm[dtype]["n"] > 0
        assert gemm[dtype]["best_gflops"] >= gemm[dtype]["gflops"] > 0


def test_report_cases(tiny_report):
    data = tiny_report.data
    cases = {c["name"]: c for c in data["cases"]}
    assert list(cases) == ["tiny.conv", "tiny.pool"]
    peak = data["gemm"]["float32"]["gflops"]
    for name, case in cases.items():
        assert case["kind"] == all_cases()[name].kind
        assert list(case["results"]) == ["im2col", "numba", "auto"]
        for backend, r in case["results"].items():
            _check_stats(r["forward"])
            _check_stats(r["backward"])
            total = r["forward"]["median"] + r["backward"]["median"]
            assert r["total_seconds"] == pytest.approx(total, rel=1e-12)
            assert r["time_vs_torch"] is None and r["speedup_vs_naive"] is None
            assert isinstance(r["workspace_bytes"], int) and r["workspace_bytes"] >= 0
            assert ("chose" in r) == (backend == "auto")
        assert case["results"]["auto"]["chose"] in kernels.auto.candidates()
    conv = cases["tiny.conv"]
    assert conv["flops"] == {"forward": TINY_FLOPS, "backward": 2 * TINY_FLOPS}
    for r in conv["results"].values():
        assert r["gflops"] == pytest.approx(3 * TINY_FLOPS / r["total_seconds"] / 1e9,
                                            rel=1e-12)
        assert r["forward_gflops"] == pytest.approx(
            TINY_FLOPS / r["forward"]["median"] / 1e9, rel=1e-12)
        assert r["peak_fraction"] == pytest.approx(r["gflops"] / peak, rel=1e-12)
    assert conv["results"]["im2col"]["workspace_bytes"] > 0  # the columns, at least
    assert "gflops" not in cases["tiny.pool"]["results"]["numba"]
    assert "flops" not in cases["tiny.pool"]


def test_report_train_steps(tiny_report):
    data = tiny_report.data
    assert [e["name"] for e in data["train_steps"]] == ["tiny.train_step"]
    entry = data["train_steps"][0]
    assert entry["arch"] == "tiny"
    assert list(entry["results"]) == ["im2col", "numba", "auto"]
    for r in entry["results"].values():
        _check_stats(r["step"])
        assert r["time_vs_torch"] is None
    assert data["evaluate"] == []  # section not requested


def test_report_without_torch_says_so(tiny_report):
    data = tiny_report.data
    for entry in data["cases"] + data["train_steps"]:
        assert "torch" not in entry["results"]
    assert "PyTorch reference skipped: --no-torch" in tiny_report.stdout
    assert not any(line.split()[:1] == ["torch"] for line in tiny_report.stdout.splitlines())


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
    _check_stats(theirs["forward"])
    assert theirs["time_vs_torch"] == 1.0
    assert ours["time_vs_torch"] == pytest.approx(ours["total_seconds"] / theirs["total_seconds"],
                                                  rel=1e-12)
    assert theirs["gflops"] > 0
    assert "PyTorch reference skipped" not in stdout
    assert any(line.split()[:1] == ["torch"] for line in stdout.splitlines())


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
    assert batches and set(batches) == {bench.NAIVE_PROBE_BATCH} == {4}
    (case,) = json.loads(json_path.read_text())["cases"]
    r = case["results"]["naive"]
    assert r["note"] == "extrapolated from batch 4"
    assert r["workspace_bytes"] is None
    assert r["speedup_vs_naive"] == 1.0
    _check_stats(r["forward"])
    assert "(extrapolated from batch 4)" in stdout


# ------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("argv, bad", [
    (["--backends", "im2col,winograd"], "winograd"),
    (["--cases", "bogus"], "bogus"),
    (["--sections", "conv,bogus"], "bogus"),
    (["--threads", "0", "--cases", "tiny.conv"], "--threads"),
    (["--dtype", "float16"], "float16"),
], ids=["backend", "case", "section", "threads", "dtype"])
def test_bad_arguments_exit_2_naming_the_value(argv, bad, capsys, monkeypatch):
    def not_reached(*args, **kwargs):
        raise AssertionError("the report started despite a bad argument")
    monkeypatch.setattr(report.runtime, "pin_threads", not_reached)
    with pytest.raises(SystemExit) as info:
        report.main(argv + ["--no-torch", "--no-malloc-reuse"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert bad in err and "usage:" in err


def test_bad_case_prefix_among_good_ones_is_an_error(capsys):
    parser = report.build_parser()
    args = parser.parse_args(["--cases", "tiny,bogus"])
    with pytest.raises(SystemExit) as info:
        report._select(args, parser)
    assert info.value.code == 2 and "bogus" in capsys.readouterr().err


@pytest.mark.parametrize("repeats", ["0", "-1"])
def test_non_positive_repeats_is_an_error(repeats, monkeypatch, capsys):
    def reached(*args, **kwargs):
        raise RuntimeError("validation passed")
    monkeypatch.setattr(report.runtime, "pin_threads", reached)
    with pytest.raises(SystemExit) as info:
        report.main(["--repeats", repeats, "--cases", "tiny.conv", "--no-torch",
                     "--no-malloc-reuse"])
    assert info.value.code == 2 and "--repeats" in capsys.readouterr().err


@pytest.mark.parametrize("args", [[], ["train"], ["--quick"]], ids=["none", "train", "flag"])
def test_python_m_kernels_needs_the_bench_command(args):
    result = subprocess.run([sys.executable, "-m", "kernels", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    assert "usage: python -m kernels bench" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_mnist_cases_are_the_layers_of_the_architecture(arch):
    """kernels.cases names the conv and pool layers of each CNN by hand; they must be exactly
    the layers cnn.model builds (shapes traced by a forward pass at batch 64), or the
    benchmarks would time layers nobody trains."""
    from cnn import layers as L
    from cnn.model import build_model

    model = build_model(arch, backend=kernels.get_backend("im2col"))
    h = np.zeros((64, 1, 28, 28), np.float32)
    traced = set()
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            F, C, k, _ = layer.shape
            traced.add(("conv", C, F, h.shape[2], k, layer.stride, layer.padding))
        elif isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
            traced.add((layer.kind, h.shape[1], h.shape[2], layer.kernel_size))
        h = layer.forward(h)
    named = {("conv", c.C, c.F, c.H, c.k, c.stride, c.padding) for n, c in CONV_CASES.items()
             if n.startswith(arch + ".")}
    named |= {(c.op, c.C, c.H, c.k) for n, c in POOL_CASES.items() if n.startswith(arch + ".")}
    assert named == traced
    assert all(c.N == 64 for n, c in {**CONV_CASES, **POOL_CASES}.items()
               if n.startswith(arch + "."))
