"""fft's transforms run on one scipy.fft worker whatever thread count is pinned: two workers
made them slower even on an idle 2-core machine and ~100x slower under load (issue 17,
finding 11; measurements in kernels/backends/fft.py, "Threads")."""

from __future__ import annotations

import numpy as np
import scipy.fft

import kernels
from kernels.cases import CONV_CASES
from kernels.support import runtime


def test_the_transforms_use_one_worker_when_two_threads_are_pinned(monkeypatch):
    monkeypatch.setattr(runtime, "_pinned", 2)
    workers = []
    for fn in ("rfftn", "irfftn"):
        original = getattr(scipy.fft, fn)

        def spy(*args, original=original, **kwargs):
            workers.append(kwargs.get("workers"))
            return original(*args, **kwargs)
        monkeypatch.setattr(scipy.fft, fn, spy)
    fft = kernels.get_backend("fft")
    case = CONV_CASES["tiny.conv"]
    x, w, b, dy = case.arrays(np.float32)
    _, cache = fft.conv2d_forward(x, w, b, **case.params())
    fft.conv2d_backward(dy, cache)
    assert len(workers) >= 4 and set(workers) == {1}
