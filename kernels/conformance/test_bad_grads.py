"""Bad inputs to the backward passes: every backend refuses a dy whose shape or dtype
differs from the forward output's, with the house's exception type and wording (a dy of the
other float dtype may be computed right instead). How a refusal is judged, and why, is
kernels.conformance.refusals.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance import checks, conventions
from kernels.conformance.bounds import conv_reduction_lengths
from kernels.conformance.compare import abs64, conv_reference, f64, naive
from kernels.conformance.conventions import all_of, word
from kernels.conformance.refusals import _b, _w, _x, assert_promoted_right, promotable, refuses

CATEGORY = "bad inputs"


def _forward(backend, op, dtype=np.float64):
    """Run one forward pass; returns (y, backward function, cache, check) where check(dy,
    result) asserts that a backward computed from a dy of the other float dtype is right. For
    conv the backend must compute a backward pass and the configuration (else the test is
    skipped)."""
    x = _x(dtype=dtype)
    if op == "conv":
        w, b = _w(dtype=dtype), _b(dtype=dtype)
        checks.require_backward(backend)
        checks.require_in_range(backend, x, w, b, padding=1)
        y, cache = backend.conv2d_forward(x, w, b, padding=1)

        def check(dy, result):
            y_ref, _, ref_backward = conv_reference(x, w, b, padding=1)
            refs = ref_backward(dy)
            K = conv_reduction_lengths(x, w, b, y_ref.shape)
            for name, got, ref, scale, asked in zip(
                    ("dx", "dw", "db"), result, refs[:3], refs[3:],
                    (*checks.backward_asks(backend), checks.backward_asks(backend)[1])):
                if asked:
                    assert_promoted_right(got, ref, scale, K[name], (x, dy), dtype,
                                          f"conv {name}")
        return y, lambda dy, cache: checks.backward(backend, dy, cache), cache, check
    y, cache = getattr(backend, f"{op}_pool2d_forward")(x, 2, stride=1)

    def check(dy, dx):
        reference = naive()
        _, cache64 = getattr(reference, f"{op}_pool2d_forward")(f64(x), 2, stride=1)
        ref_backward = getattr(reference, f"{op}_pool2d_backward")
        assert_promoted_right(dx, ref_backward(f64(dy), cache64),
                              ref_backward(abs64(dy), cache64), 4 if op == "max" else 4 + 2,
                              (x, dy), dtype, f"{op}-pool dx")
    return y, getattr(backend, f"{op}_pool2d_backward"), cache, check


BACKWARD_ERRORS = [
    pytest.param(lambda y: np.ones(y.shape[:3] + (y.shape[3] + 1,)), ValueError, word("dy"),
                 id="dy-wrong-width"),
    pytest.param(lambda y: np.ones((y.shape[0] + 1,) + y.shape[1:]), ValueError, word("dy"),
                 id="dy-wrong-batch"),
    pytest.param(lambda y: np.ones(y.shape[1:]), ValueError, word("dy"), id="dy-3d"),
    pytest.param(promotable(lambda y: np.random.default_rng(4).standard_normal(y.shape)
                            .astype(np.float32)), TypeError,
                 all_of(word("dy"), "dtype"), id="dy-f32-for-f64"),
    pytest.param(lambda y: np.ones(y.shape, np.int64), TypeError, word("dy"), id="dy-int"),
    pytest.param(lambda y: np.ones(y.shape).tolist(), TypeError, word("dy"), id="dy-list"),
    pytest.param(lambda y: np.ma.masked_array(np.ones(y.shape)), TypeError,
                 all_of(word("dy"), "masked"), id="dy-masked"),
]


def _backward_refuses(backend, op, make_dy, exc, match, dtype):
    y, backward, cache, check = _forward(backend, op, dtype)
    dy = make_dy(y)
    refuses(lambda: backward(dy, cache), exc, match, conventions.GRAD_HELPER,
            (lambda result: check(dy, result)) if getattr(make_dy, "promotable", False)
            else None)


@pytest.mark.parametrize("op", ["conv", "max", "avg"])
@pytest.mark.parametrize("make_dy, exc, match", BACKWARD_ERRORS)
def test_backward_rejects_bad_dy(backend, op, make_dy, exc, match):
    """Each backward refuses a dy whose shape or dtype differs from the forward output's (a
    float32 dy for a float64 forward may be computed right instead)."""
    _backward_refuses(backend, op, make_dy, exc, match, np.float64)


@pytest.mark.parametrize("op", ["conv", "max", "avg"])
def test_backward_rejects_f64_dy_for_f32_forward(backend, op):
    """A float64 dy after a float32 forward is a TypeError naming dy (no silent casting: the
    convention); computing it right (float32 or float64 results) is allowed."""
    make_dy = promotable(lambda y: np.random.default_rng(4).standard_normal(y.shape))
    _backward_refuses(backend, op, make_dy, TypeError, all_of(word("dy"), "dtype"),
                      np.float32)
