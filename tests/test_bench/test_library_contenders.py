"""Libraries (frameworks, plug-ins: role LIBRARY) as contenders in the report and the map:
timed beside ours but never the best of ours, never judged by our targets, shown in their
own group, and a pass they do not compute shown as "not computed". End to end through
`python -m kernels bench --case ...` with stand-ins from tests/test_bench/fake_library.py
reached through CONVBENCH_BACKENDS, as a user's plug-in would be."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kernels
from kernels import plugins
from kernels.bench import algorithm_map, map_points
from kernels.bench.judging import columns, readers, targets
from kernels.bench.measuring import libraries
from test_bench.fake_library import FakeLibrary

ROOT = Path(__file__).resolve().parents[2]
FAKES = ("fakelib=test_bench.fake_library:FULL,"
         "fakefwd=test_bench.fake_library:FORWARD_ONLY")


@pytest.fixture(scope="module")
def user_report(tmp_path_factory):
    """One report on a user's layer: im2col against a full and a forward-only library."""
    directory = tmp_path_factory.mktemp("libraries")
    paths = {k: directory / f"r.{k}" for k in ("json", "csv", "md")}
    env = {**os.environ, "CONVBENCH_BACKENDS": FAKES,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"),
                                                       os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "kernels", "bench", "--case",
         "name=userlayer,N=2,C=4,H=8,F=6,k=3,padding=1,source=a test", "--backends",
         "im2col,fakelib,fakefwd", "--repeats", "1", "--sections", "conv", "--threads", "1",
         "--no-torch", "--json", str(paths["json"]), "--csv", str(paths["csv"]),
         "--markdown", str(paths["md"])],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return dict(stdout=done.stdout, data=json.loads(paths["json"].read_text()),
                csv=list(csv.DictReader(paths["csv"].open())), md=paths["md"].read_text())


def test_the_user_case_is_measured_as_given(user_report):
    (case,) = user_report["data"]["cases"]
    assert (case["name"], case["set"], case["source"], case["batch"]) == \
        ("userlayer", "custom", "a test", 2)
    assert case["description"] == "2x4x8x8 -> 6@3x3 p1"
    assert case["flops"]["forward"] == 2 * 2 * 6 * 4 * 9 * 8 * 8


def test_libraries_come_after_ours_flagged_as_libraries(user_report):
    results = user_report["data"]["cases"][0]["results"]
    assert list(results) == ["im2col", "fakelib", "fakefwd"]
    assert "library" not in results["im2col"] and results["im2col"]["role"] == "algorithm"
    assert all(results[b]["library"] is True and results[b]["role"] == "library"
               for b in ("fakelib", "fakefwd"))
    assert results["fakelib"]["workspace_bytes"] is None  # tracemalloc cannot see theirs
    lines = user_report["stdout"].splitlines()
    rows = [next(i for i, line in enumerate(lines) if line.strip().startswith(name))
            for name in ("im2col", columns.LIBRARIES_ROW, "fakelib", "fakefwd")]
    assert rows == sorted(rows)
    assert {r["backend"]: r["group"] for r in user_report["csv"]} == \
        {"im2col": "ours", "fakelib": "library", "fakefwd": "library"}


def test_passes_not_computed_are_shown_as_such(user_report):
    fwd = user_report["data"]["cases"][0]["results"]["fakefwd"]
    assert fwd["not_computed"] == ["backward_data", "backward_weights"]
    assert "backward_data" not in fwd and "backward_weights" not in fwd
    assert fwd["forward"]["median"] > 0 and fwd["forward_gflops"] > 0
    # a forward alone is no step: no total and nothing derived from one, never a zero
    assert fwd["total_seconds"] is None and fwd["gflops"] is None
    assert fwd["error"]["dx"] is None and fwd["error"]["dw"] is None and fwd["error"]["y"] > 0
    line = next(line for line in user_report["stdout"].splitlines()
                if line.strip().startswith("fakefwd"))
    assert line.count("not computed") == 2
    row = next(r for r in user_report["csv"] if r["backend"] == "fakefwd")
    assert row["backward_data_ms"] == row["backward_weights_ms"] == "not computed"
    assert row["total_ms"] == ""


def test_the_environment_records_each_library(user_report):
    found = {lib["name"]: lib for lib in user_report["data"]["environment"]["libraries"]}
    assert set(found) == {"fakelib", "fakefwd"}
    assert found["fakefwd"]["passes"] == ["forward"]
    assert found["fakelib"]["origin"] == "CONVBENCH_BACKENDS"
    assert {"package": "fakelib", "version": "1.2.3"} in found["fakelib"]["versions"]
    assert found["fakelib"]["pinned_threads"] == 1 and found["fakelib"]["threads"] == "1"
    assert "fakelib (fakelib 1.2.3" in user_report["stdout"]


def test_the_summary_and_no_target_judges_a_user_case(user_report):
    data = user_report["data"]
    rows = {r["pass"]: r for r in data["libraries_vs_ours"]}
    assert list(rows) == ["forward", "backward_data", "backward_weights", "total"]
    results = data["cases"][0]["results"]
    for key, row in rows.items():
        assert row["ours"] == "im2col"
        assert row["library"] == ("fakelib" if key != "forward" else
                                  min(("fakelib", "fakefwd"),
                                      key=lambda b: results[b]["forward"]["median"]))
        assert row["ours_over_library"] == pytest.approx(row["ours_seconds"] /
                                                         row["library_seconds"])
    assert "Libraries against ours" in user_report["md"]
    assert all(t["measured"] is None for t in data["targets"])


# ------------------------------------------------------------------ never ours

@pytest.fixture
def fast_library():
    """A library registered at run time that is faster than every algorithm of ours."""
    kernels.register("fastlib", FakeLibrary("fastlib", kernels.ALL_PASSES))
    yield "fastlib"
    plugins.unregister("fastlib")


def _timing(seconds):
    return dict(median=seconds, p25=seconds, p75=seconds, min=seconds)


def _result(seconds, library=False):
    result = {p: _timing(seconds) for p in columns.PASSES}
    return dict(result, library=True, role=kernels.LIBRARY) if library else result


def test_a_library_is_never_the_best_of_ours_nor_judged(fast_library):
    entry = dict(name="convnet.conv2", kind="conv", set="mnist",
                 flops=dict(forward=10**9, backward=2 * 10**9),
                 results={"numba": _result(0.003), "im2col": _result(0.002),
                          fast_library: _result(0.0005, library=True),
                          "torch": _result(0.001, library=True)})
    columns.derive(entry, gemm_gflops=100.0)
    report = dict(cases=[entry], environment=dict(dtype="float32"),
                  gemm=dict(float32=dict(gflops=100.0)))
    assert fast_library in kernels.available()  # listed, so only its role keeps it out
    assert readers._best(entry["results"])[0] == "im2col"
    value, note = readers.worst_best_vs_torch("conv", "mnist")(report)
    assert value == pytest.approx(2.0) and "im2col" in note
    for row in targets.check(report):
        assert fast_library not in (row["note"] or ""), row
    (total,) = [r for r in libraries.summary(report) if r["pass"] == "total"]
    assert (total["library"], total["ours"]) == (fast_library, "im2col")
    assert total["ours_over_library"] == pytest.approx(4.0)


def test_a_user_case_is_never_judged():
    entry = dict(name="convnet.conv2", kind="conv", set="custom",
                 results={"im2col": _result(9.0), "torch": _result(0.001, library=True)})
    columns.derive(entry, gemm_gflops=100.0)
    assert readers.worst_best_vs_torch("conv")(dict(cases=[entry])) == readers.NOT_MEASURED


def test_the_table_puts_libraries_under_their_heading():
    entry = dict(name="c", kind="conv", results={
        "im2col": _result(0.002), "onlyfwd": dict(forward=_timing(0.001), library=True,
                                                  not_computed=["backward_data",
                                                                "backward_weights"])})
    columns.derive(entry, gemm_gflops=100.0)
    headers, rows = columns.table(entry)
    assert [r[0] for r in rows] == ["im2col", columns.LIBRARIES_ROW, "onlyfwd"]
    cells = dict(zip(headers, rows[2]))
    assert cells["bwd-data ms"] == cells["bwd-weights ms"] == "not computed"
    assert cells["x PyTorch"] == "-" and cells["GF/s"] == "-"


# ------------------------------------------------------------------ the map

def test_the_map_keeps_the_winner_ours(fast_library, monkeypatch):
    times = {"im2col": 4.0, "numba": 2.0, fast_library: 0.5}
    monkeypatch.setattr(algorithm_map, "measure_alternated", lambda contenders, repeats: {
        name: dict(median=times[name]) for name in contenders})
    p = algorithm_map.point(1, 2, 4, 3, ["im2col", "numba"], False, repeats=1,
                            libraries=[fast_library])
    assert set(p["seconds"]) == set(times)
    assert (p["winner"], p["library"]) == ("numba", fast_library)
    assert p["margin"] == pytest.approx(2.0) and p["vs_library"] == pytest.approx(4.0)


def test_the_map_skips_a_library_that_cannot_do_every_pass(fast_library):
    kernels.register("fwdlib", FakeLibrary("fwdlib", (kernels.FORWARD,)))
    try:
        timed, skipped = map_points.select_libraries(True, with_torch=False)
        assert fast_library in timed and "fwdlib" not in timed
        assert "forward only" in skipped["fwdlib"]
        assert map_points.select_libraries(False, with_torch=True) == ([], {})
    finally:
        plugins.unregister("fwdlib")


def test_the_map_at_a_user_case(fast_library, monkeypatch):
    from kernels.cases.custom import parse_spec

    times = {"im2col": 4.0, "numba": 2.0, fast_library: 0.5}
    monkeypatch.setattr(map_points, "measure_alternated", lambda contenders, repeats: {
        name: dict(median=times[name]) for name in contenders})
    case = parse_spec("name=u,N=1,C=2,H=6,F=2,k=3,stride=2")
    p = map_points.case_point(case, ["im2col", "numba"], [fast_library], False, 1)
    assert (p["case"], p["winner"], p["library"]) == ("u", "numba", fast_library)
    assert p["flops"] == 3 * case.flops_forward
    assert "fastest library fastlib, ours 4.00x its time" in map_points.case_line(p)


@pytest.mark.frameworks
def test_the_registered_torch_backend_is_the_pytorch_row_and_no_torch_drops_it():
    from kernels.bench import cli

    if "torch" not in kernels.available():
        pytest.skip("torch is not installed")
    parser = cli.build_parser()

    def plan(*argv):
        return cli.plan_from(parser.parse_args(list(argv)), parser, list(argv))
    assert plan("--backends", "im2col", "--cases", "tiny").backends == ["im2col", "torch"]
    assert plan("--backends", "im2col,torch", "--no-torch", "--cases", "tiny").backends == \
        ["im2col"]
    assert "torch" not in plan("--no-torch", "--cases", "tiny").backends


@pytest.fixture
def broken_framework(monkeypatch):
    """A framework whose package is installed (so it is listed) but whose backend module
    fails to import: only loading it can tell."""
    monkeypatch.setitem(plugins.FRAMEWORKS, "brokenlib", ("no_such_module_xyz", "json",
                                                          "convbench[brokenlib]"))
    plugins.forget()
    yield "brokenlib"
    monkeypatch.undo()
    plugins.forget()


def test_a_library_that_does_not_load_is_left_out_not_a_crash(broken_framework, tmp_path):
    from test_bench.test_report import run_report

    assert broken_framework in kernels.available()
    path = tmp_path / "r.json"
    code, stdout = run_report(["--case", "name=u,N=2,C=2,H=6,F=2,k=3", "--backends",
                               f"im2col,{broken_framework}", "--sections", "conv",
                               "--repeats", "1", "--threads", "1", "--no-torch",
                               "--json", str(path)])
    assert code == 0 and f"{broken_framework} left out: " in stdout
    report = json.loads(path.read_text())
    assert list(report["cases"][0]["results"]) == ["im2col"]
    assert report["environment"]["libraries"] == []
    loaded, problems = libraries.load(["im2col", broken_framework])
    assert loaded == {} and "no_such_module_xyz" in problems[broken_framework]


@pytest.mark.frameworks
def test_a_pool_case_keeps_pytorchs_own_pooling_as_its_pytorch_row(tmp_path):
    """The torch backend wraps PyTorch's convolution and borrows our pooling; the "x PyTorch"
    column of a pool case still divides by PyTorch's own pooling."""
    from test_bench.test_report import run_report

    if "torch" not in kernels.available():
        pytest.skip("torch is not installed")
    path = tmp_path / "r.json"
    code, _ = run_report(["--cases", "tiny.pool", "--backends", "im2col", "--sections", "pool",
                          "--repeats", "1", "--threads", "1", "--json", str(path)])
    assert code == 0
    (case,) = json.loads(path.read_text())["cases"]
    assert list(case["results"]) == ["im2col", "torch"] and "torch" not in case["unsupported"]
    torch_row = case["results"]["torch"]
    assert torch_row["library"] is True and torch_row["backward_data"]["median"] > 0
    assert case["results"]["im2col"]["time_vs_torch"] == pytest.approx(
        case["results"]["im2col"]["total_seconds"] / torch_row["total_seconds"])
