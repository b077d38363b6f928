"""The report's error columns (issue 17, finding 7): where the reference and sum|terms| are
exactly 0 - a strided 1x1's dx at the skipped pixels - a tiny FFT rounding error is an
infinite componentwise error; the normwise error beside it stays finite and small, and the
fft target reads the normwise one."""

from __future__ import annotations

import math

import numpy as np

from kernels.bench.measuring import layers
from kernels.bench.judging import targets


def test_normwise_error_is_finite_where_componentwise_is_infinite():
    want = np.array([0.0, 1.0, 2.0])
    scale = np.array([0.0, 1.0, 2.0])
    got = (want + np.array([4e-7, 0.0, 0.0])).astype(np.float32)
    exact = (want.astype(np.float32),) * 3
    errors = layers._units((got, *exact[1:]), ((want,) * 3, (scale,) * 3), np.float32)
    assert math.isinf(errors["error"]["y"])
    eps = np.finfo(np.float32).eps
    assert errors["error_normwise"]["y"] == np.float32(4e-7) / (eps * 2.0)
    assert errors["error_normwise"]["dx"] == errors["error_normwise"]["dw"] == 0.0


def test_the_fft_error_target_is_normwise():
    (target,) = [t for t in targets.TARGETS if t.label.startswith("fft ")
                 and "error" in t.label]
    results = dict(fft=dict(error=dict(y=math.inf, dx=1.0, dw=1.0),
                            error_normwise=dict(y=2.0, dx=1.0, dw=1.0)),
                   im2col=dict(error=dict(y=1.0, dx=1.0, dw=1.0),
                               error_normwise=dict(y=1.0, dx=1.0, dw=1.0)))
    row = target.check(dict(cases=[dict(name="c", kind="conv", set="std", results=results)]))
    assert row["measured"] == 2.0 and row["met"] is True
