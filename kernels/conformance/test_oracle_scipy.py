"""Oracle: SciPy, for every backend (naive included).

A reference that shares no code with the package: SciPy's direct 2-D correlation on an
explicitly zero-padded input (stride 1, dilation 1, groups 1). Comparisons use the bound of
the backend's error model (`compare`), with the scale computed by the same oracle on absolute
values. SciPy uses method='direct' (a plain sum of products; its FFT path has a norm-wise, not
elementwise, error bound).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from kernels.conformance.bounds import DTYPE_IDS, DTYPES
from kernels.conformance.checks import asked_only, backward, conv_inputs, require_in_range
from kernels.conformance.compare import assert_conv_close, computed_by

CATEGORY = "oracles"

# id: (N, C, H, W, F, (kh, kw), padding (top, bottom, left, right) or None for 'same')
SCIPY_CASES = {
    "k3-p0": (2, 3, 6, 7, 4, (3, 3), (0, 0, 0, 0)),
    "k3-p1": (1, 2, 5, 5, 3, (3, 3), (1, 1, 1, 1)),
    "k2x3-p2x0": (2, 2, 4, 6, 2, (2, 3), (2, 2, 0, 0)),
    "k1x1": (2, 4, 3, 5, 3, (1, 1), (0, 0, 0, 0)),
    "k4x1-p1x2": (1, 3, 7, 4, 2, (4, 1), (1, 1, 2, 2)),
    "cin1-k5": (2, 1, 8, 6, 3, (5, 5), (0, 0, 0, 0)),
    "kernel-eq-input": (1, 2, 3, 4, 2, (3, 4), (0, 0, 0, 0)),
    "same-k2x4": (2, 2, 5, 6, 3, (2, 4), None),
}


def _scipy_conv(x, w, b, dy, pad):
    """Forward y and backward dx, dw, db (float64) with SciPy's direct correlate/convolve:
    y[n,f] = sum_c correlate(xp[n,c], w[f,c], 'valid') + b[f];
    dxp[n,c] = sum_f convolve(dy[n,f], w[f,c], 'full');  dw[f,c] = sum_n correlate(xp[n,c],
    dy[n,f], 'valid');  db[f] = sum dy[n,f]."""
    top, bottom, left, right = pad
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    N, C = x.shape[:2]
    F = w.shape[0]
    y = np.stack([np.stack([
        sum(signal.correlate(xp[n, c], w[f, c], mode="valid", method="direct")
            for c in range(C)) + (0.0 if b is None else b[f])
        for f in range(F)]) for n in range(N)])
    if dy is None:
        return y
    dxp = np.stack([np.stack([
        sum(signal.convolve(dy[n, f], w[f, c], mode="full", method="direct") for f in range(F))
        for c in range(C)]) for n in range(N)])
    dx = dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    dw = np.stack([np.stack([
        sum(signal.correlate(xp[n, c], dy[n, f], mode="valid", method="direct")
            for n in range(N))
        for c in range(C)]) for f in range(F)])
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return y, dx, dw, db


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(SCIPY_CASES.values()), ids=list(SCIPY_CASES))
def test_conv_matches_scipy_correlate(backend, case, bias, dtype):
    """Stride-1 conv y, dx, dw, db of every backend match SciPy's direct correlation."""
    N, C, H, W, F, (kh, kw), pad = case
    rng = np.random.default_rng(sum(map(ord, repr((case, bias)))))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw, bias=bias, dtype=dtype)
    if pad is None:  # 'same': total k-1, the odd extra row/column at the bottom/right
        padding = "same"
        pad = ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
    else:
        padding = (pad[0], pad[2])
    require_in_range(backend, x, w, b, padding=padding)
    y, cache = backend.conv2d_forward(x, w, b, padding=padding)
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = (y, *backward(backend, dy, cache))

    f64 = [None if a is None else a.astype(np.float64) for a in (x, w, b, dy)]
    ab = [None if a is None else np.abs(a) for a in f64]
    ref = dict(values=_scipy_conv(*f64, pad), scales=_scipy_conv(*ab, pad))
    ref["values"] = asked_only(backend, ref["values"])
    assert_conv_close(computed_by(backend, cache), got, ref, x, w, b, dy,
                      dict(padding=padding), " vs scipy")
