"""The asv suites (benchmarks/) and the pytest-benchmark groups with libraries and a user's
own cases: a framework that is not installed, or a pass a library does not compute, is a skip
(in asv, NotImplementedError in setup), never a failure; the cases of CONVBENCH_CASES_FILE
join the grid. Run in a fresh interpreter: the suites read the registry and the environment
when imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import kernels
    from kernels import plugins
    # a framework the registry knows whose package is missing on this machine
    plugins.FRAMEWORKS["missinglib"] = ("no_such_module", "no_such_package_xyz",
                                        "convbench[missinglib]")
    plugins.forget()

    from benchmarks import bench_conv, bench_pool, common

    assert {"fakelib", "fakefwd", "missinglib"} <= set(common.BACKENDS), common.BACKENDS
    assert "missinglib" not in kernels.available()
    assert "asvconv" in common.CONV_NAMES and "asvpool" in common.POOL_NAMES
    assert not {"fakelib", "fakefwd", "missinglib"} & set(common.MODEL_BACKENDS)


    def skipped(suite, backend, case):
        try:
            suite().setup(backend, case)
        except NotImplementedError as reason:
            return str(reason)
        return None


    forward = bench_conv.ConvForward()
    forward.setup("fakelib", "asvconv")
    forward.time_forward("fakelib", "asvconv")
    assert forward.x.shape == (2, 3, 9, 9)
    assert skipped(bench_conv.ConvForward, "fakefwd", "asvconv") is None
    assert skipped(bench_conv.ConvBackwardData, "fakelib", "asvconv") is None
    for suite in (bench_conv.ConvBackward, bench_conv.ConvBackwardData,
                  bench_conv.ConvBackwardWeights, bench_conv.ConvMetrics):
        assert "forward pass only" in skipped(suite, "fakefwd", "asvconv")
    assert "not available" in skipped(bench_conv.ConvForward, "missinglib", "asvconv")
    assert "not known at this commit" in skipped(bench_conv.ConvForward, "im2col", "gone")
    assert skipped(bench_pool.PoolForward, "im2col", "asvpool") is None
    assert "forward pass only" in skipped(bench_pool.PoolBackward, "fakefwd", "asvpool")
    print("ok")
""")


def test_libraries_and_user_cases_in_the_asv_suites(tmp_path):
    cases = tmp_path / "cases.csv"
    cases.write_text("name,kind,op,N,C,H,F,k,padding,source\n"
                     "asvconv,conv,,2,3,9,4,3,1,a test\n"
                     "asvpool,pool,max,2,3,8,,2,,a test\n")
    env = {**os.environ, "CONVBENCH_CASES_FILE": str(cases),
           "CONVBENCH_BACKENDS": "fakelib=test_bench.fake_library:FULL,"
                                 "fakefwd=test_bench.fake_library:FORWARD_ONLY",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_libraries_and_user_cases_in_the_pytest_benchmark_groups(tmp_path):
    """The same through tests/test_bench/test_benchmarks.py (one untimed call per row):
    the user's cases get every pass's group, a library a row in each, a pass it does not
    compute is skipped with that reason."""
    cases = tmp_path / "cases.json"
    cases.write_text('[{"name": "pbconv", "N": 2, "C": 3, "H": 9, "F": 4, "k": 3, '
                     '"padding": 1, "source": "a test"}, {"name": "pbpool", "kind": "pool", '
                     '"op": "avg", "N": 2, "C": 3, "H": 8, "source": "a test"}]')
    env = {**os.environ, "CONVBENCH_CASES_FILE": str(cases),
           "CONVBENCH_BACKENDS": "fakelib=test_bench.fake_library:FULL,"
                                 "fakefwd=test_bench.fake_library:FORWARD_ONLY"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/test_bench/test_benchmarks.py", "-k", "pbconv-fakelib or pbconv-fakefwd or "
         "pbpool-fakelib or pbpool-fakefwd or pbconv-im2col"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    # conv: 4 groups x (im2col, fakelib) + fakefwd's forward, pool: fakelib; skipped:
    # fakefwd's three backward groups and its pool
    assert "10 passed, 4 skipped" in done.stdout, done.stdout
    assert done.stdout.count("fakefwd computes the forward pass only") == 1  # grouped [4]
    assert "SKIPPED [4]" in done.stdout
