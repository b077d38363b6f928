"""Small GEMMs do not pay a BLAS thread hand-off (issue 23): every GEMM-based backend declares
the GEMM size below which a pass runs BLAS on one thread, kernels.support.blas really lowers
the count inside a pass and restores it after, never raises it, and does nothing without
threadpoolctl. Numerics are unchanged by construction (the same calls); conformance checks
them for every backend anyway."""

from __future__ import annotations

import importlib
import re
import sys

import numpy as np
import pytest

from kernels.cases import CONV_CASES
from kernels.plugins import ALGORITHM, BUILT_IN
from kernels.shapes import conv2d_geometry
from kernels.support import blas, runtime

threadpoolctl = pytest.importorskip("threadpoolctl")

GEMM_CALL = re.compile(r"np\.(matmul|tensordot|einsum|dot)\(|\s@\s")


def _ours():
    """(name, backend object) of every algorithm of ours, imported without the registry."""
    for name, (target, role) in BUILT_IN.items():
        if role == ALGORITHM:
            module, _, attribute = target.partition(":")
            module = importlib.import_module(module)
            yield name, getattr(module, attribute) if attribute else module


def _blas_threads():
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """BLAS on 2 threads for the test (what a pinned 2-core run has), or a skip."""
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if not _blas_threads() or min(_blas_threads()) < 2:
            pytest.skip("BLAS cannot run 2 threads here")
        yield


def test_every_gemm_based_backend_declares_its_threshold():
    geo = conv2d_geometry(*CONV_CASES["convnet.conv2"].arrays(np.float32)[:3],
                          **CONV_CASES["convnet.conv2"].params())
    gemm_based = []
    for name, backend in _ours():
        source = "".join(p.read_text() for p in runtime.source_files(backend))
        if not GEMM_CALL.search(source):
            continue
        gemm_based.append(name)
        assert isinstance(getattr(backend, "BLAS_ONE_THREAD_BELOW", None), int), name
        assert backend.BLAS_ONE_THREAD_BELOW > 0, name
        assert backend.gemm_flops(geo) > 0, name
    assert {"fft", "winograd2x2", "winograd4x4", "im2col", "strided"} <= set(gemm_based)


def test_one_thread_lowers_blas_inside_and_restores_after(two_blas_threads):
    with blas.one_thread():
        assert set(_blas_threads()) == {1}
    assert min(_blas_threads()) == 2


def test_one_thread_never_raises_a_lower_count():
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with blas.one_thread():
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}


def test_the_limit_restores_the_count_when_the_pass_raises(two_blas_threads):
    with pytest.raises(ZeroDivisionError):
        with blas.one_thread():
            1 / 0
    assert min(_blas_threads()) == 2


def test_without_threadpoolctl_it_does_nothing(monkeypatch, two_blas_threads):
    monkeypatch.setattr(blas, "_libraries", None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ImportError
    assert blas.libraries() == []
    assert "threadpoolctl not installed" in blas.status()
    with blas.one_thread():
        monkeypatch.undo()  # read the real counts: the limit must not have touched them
        assert min(_blas_threads()) == 2


@pytest.mark.parametrize("name", ["fft", "winograd4x4", "im2col"])
def test_a_pass_below_the_threshold_runs_blas_on_one_thread(monkeypatch, two_blas_threads,
                                                            name):
    backend = dict(_ours())[name]
    case = CONV_CASES["convnet.conv2"]
    x, w, b, dy = case.arrays(np.float32)
    real, seen = np.matmul, []

    def spy(*args, **kwargs):
        seen.append(min(_blas_threads()))
        return real(*args, **kwargs)
    monkeypatch.setattr(np, "matmul", spy)
    for threshold, expected in ((2**62, 1), (0, 2)):
        monkeypatch.setattr(backend, "BLAS_ONE_THREAD_BELOW", threshold)
        seen.clear()
        y, cache = backend.conv2d_forward(x, w, b, **case.params())
        backend.conv2d_backward(dy, cache)
        assert seen and set(seen) == {expected}, (threshold, seen)
        assert min(_blas_threads()) == 2  # restored after each pass
