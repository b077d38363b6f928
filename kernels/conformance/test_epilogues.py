"""Fused epilogues (an optional capability, kernels.epilogues): a backend that defines
conv2d_relu_forward / conv2d_relu_backward computes max(conv, 0) and the convolution's
gradients for dy * (y > 0), as a conv layer followed by a ReLU layer would.

Judged against the naive float64 reference with the bound of the backend's error model: y
against max(reference, 0) (ReLU never increases an error), the gradients against the
reference's for the backend's own mask (an output within rounding of 0 may fall either side
of it, and the gradient must follow the side the forward pass chose). NaN and inf keep
np.maximum's and the separate ReLU's semantics. A backend without the capability is skipped:
kernels.epilogues composes its plain passes, so it has nothing of its own to check.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels import epilogues
from kernels.conformance import conventions
from kernels.conformance.bounds import DTYPE_IDS, DTYPES
from kernels.conformance.checks import conv_inputs, require_in_range, require_passes, seed
from kernels.conformance.compare import assert_conv_close, computed_by, conv_reference
from kernels.conformance.conventions import word
from kernels.conformance.refusals import refuses
from kernels.conformance.test_grid_conv import CONV_CASES

CATEGORY = "epilogues"

FUSED_CASES = {k: CONV_CASES[k] for k in ("k3-s1-p0", "k3-s2-p1", "k3-d2", "groups2-F6",
                                          "depthwise-F1xC", "depthwise-F2xC", "k1x1",
                                          "k3-same", "cin1")}
# channels, widths and batches that are not multiples of a vector register's lanes
FUSED_CASES["remainders"] = (3, 17, 5, 13, 19, (3, 3), dict(padding=1))


def _require_fused(backend):
    require_passes(backend, *kernels.ALL_PASSES)
    if not epilogues.fuses_relu(backend):
        pytest.skip("does not fuse ReLU (optional: kernels.epilogues composes its passes)")


def _inputs(backend, case, bias, dtype):
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(seed("epilogue", case, bias, dtype))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=dtype)
    require_in_range(backend, x, w, b, **params)
    return rng, x, w, b, params


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(FUSED_CASES.values()), ids=list(FUSED_CASES))
def test_fused_relu_matches_the_reference(backend, case, bias, dtype):
    """y = max(conv, 0); (dx, dw, db) = the conv's gradients for dy * (y > 0)."""
    _require_fused(backend)
    rng, x, w, b, params = _inputs(backend, case, bias, dtype)
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_relu_forward(x, w, b, **params)
    assert y.dtype == x.dtype and y.shape == y_ref.shape
    assert np.all(y >= 0), "a fused ReLU's output has negative values"
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx, dw, db = backend.conv2d_relu_backward(dy, cache)
    masked = dy * (y > 0)
    dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(masked)
    assert_conv_close(computed_by(backend, cache), (y, dx, dw, db),
                      dict(values=(np.maximum(y_ref, 0), dx_ref, dw_ref, db_ref),
                           scales=(y_scale, sdx, sdw, sdb)),
                      x, w, b, masked, params, " (fused ReLU)")


@pytest.mark.parametrize("case", ["k3-s2-p1", "depthwise-F1xC", "groups2-F6"])
def test_fused_relu_passes_apart(backend, case):
    """compute_dx / compute_dw ask for one pass, as conv2d_backward: the other is None."""
    _require_fused(backend)
    rng, x, w, b, params = _inputs(backend, FUSED_CASES[case], True, np.float32)
    y, cache = backend.conv2d_relu_forward(x, w, b, **params)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = backend.conv2d_relu_backward(dy, cache)
    only_dx = backend.conv2d_relu_backward(dy, cache, compute_dw=False)
    only_dw = backend.conv2d_relu_backward(dy, cache, compute_dx=False)
    assert only_dx[1] is None and only_dx[2] is None and only_dw[0] is None
    np.testing.assert_array_equal(only_dx[0], dx, strict=True)
    np.testing.assert_array_equal(only_dw[1], dw, strict=True)
    np.testing.assert_array_equal(only_dw[2], db, strict=True)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_fused_relu_non_finite_as_separate_relu(backend, bias):
    """A NaN or inf reaching an output lands where max(conv, 0) puts it, and nowhere else
    (np.maximum: NaN stays NaN, +inf stays, -inf is 0); a NaN in dy stays NaN where the mask
    is 0 (dy * mask): the fused pair computes what conv + ReLU layer compute."""
    _require_fused(backend)
    rng, x, w, b, params = _inputs(backend, FUSED_CASES["k3-s1-p0"], bias, np.float32)
    x[0, 0, 2, 2] = np.nan
    x[1, 0, 0, 0] = np.inf  # the first value of its rows: nothing else in them may change
    y, cache = backend.conv2d_relu_forward(x, w, b, **params)
    z, plain_cache = backend.conv2d_forward(x, w, b, **params)
    expected = np.maximum(z, 0)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
    assert np.isnan(y).any()
    if not bias:
        return
    dy = rng.standard_normal(y.shape).astype(np.float32)
    zero_out = np.argwhere(y == 0)[0]
    dy[tuple(zero_out)] = np.nan
    _, dw, db = backend.conv2d_relu_backward(dy, cache, compute_dx=False)
    assert np.isnan(db[zero_out[1]]), "a NaN in dy was dropped where the ReLU mask is 0"


def test_fused_relu_refuses_a_bad_gradient(backend):
    """dy of the wrong shape is refused, a ValueError naming dy as in conv2d_backward (the
class and wording: house conventions, see test_bad_inputs)."""
    _require_fused(backend)
    _, x, w, b, params = _inputs(backend, FUSED_CASES["k3-s1-p0"], True, np.float32)
    y, cache = backend.conv2d_relu_forward(x, w, b, **params)
    dy = np.ones(y.shape[:-1] + (y.shape[-1] + 1,), np.float32)
    refuses(lambda: backend.conv2d_relu_backward(dy, cache), ValueError, word("dy"),
            conventions.GRAD_HELPER)
