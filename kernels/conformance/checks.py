"""The checks the conformance tests are made of: input builders, the backend's declared range
and passes, and conv / pool results against the naive float64 reference.

Range and passes: before a test computes a configuration it asks the backend. Outside the
backend's `unsupported(geometry)` the test is skipped with "out of declared range: <reason>"
(after checking that the backend indeed refuses it, naming that reason); a pass outside its
`PASSES` is not asked for, and a test that is about nothing else is skipped with
"not computed: <passes>". Neither counts as a failure.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels.conformance import conventions, record
from kernels.conformance.bounds import as_pair, assert_within_rounding
from kernels.conformance.compare import (abs64, assert_conv_close, computed_by, conv_reference,
                                         f64, naive)
from kernels.shapes import conv2d_geometry

OUT_OF_RANGE = "out of declared range: "
NOT_COMPUTED = "not computed: "


# --------------------------------------------------------------------------- input builders

def seed(*parts) -> int:
    """A stable seed per test case (str hashing is randomized per process; this is not)."""
    return sum((i + 1) * ord(ch) for i, ch in enumerate("/".join(map(str, parts))))


def conv_inputs(rng, *, N, C, H, W, F, kh, kw, groups=1, bias=True, dtype=np.float64,
                ints=False):
    """x (N,C,H,W), w (F,C//groups,kh,kw), b (F,) or None, standard normal (or small ints)."""
    def draw(shape):
        if ints:
            return rng.integers(-3, 4, size=shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)
    x = draw((N, C, H, W))
    w = draw((F, C // groups, kh, kw))
    b = draw((F,)) if bias else None
    return x, w, b


def pool_input(rng, shape, dtype=np.float64, ints=False):
    """A pooling input; ints=True draws from {0, 1, 2} so that ties are frequent."""
    if ints:
        return rng.integers(0, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- range and passes

def declared_reason(backend, x, w, b=None, **params) -> str | None:
    """Why the backend does not compute this conv configuration (its `unsupported`), or None."""
    return kernels.capabilities(backend).unsupported(conv2d_geometry(x, w, b, **params))


def require_in_range(backend, x, w, b=None, **params) -> None:
    """Skip the test if the backend declares this configuration out of its range."""
    reason = declared_reason(backend, x, w, b, **params)
    if reason is not None:
        record.out_of_range(reason)
        pytest.skip(OUT_OF_RANGE + reason)


def first_in_range(backend, options):
    """The first option, a tuple that starts (x, w, b, params, ...), that the backend
    computes; the test is skipped when it computes none (giving the first option's reason)."""
    reasons = []
    for option in options:
        x, w, b, params = option[:4]
        reason = declared_reason(backend, x, w, b, **params)
        if reason is None:
            return option
        reasons.append(reason)
        record.out_of_range(reason)
    pytest.skip(OUT_OF_RANGE + reasons[0])


def require_passes(backend, *needed) -> None:
    """Skip the test unless the backend computes every pass in `needed`."""
    missing = [p for p in needed if p not in kernels.passes(backend)]
    if missing:
        pytest.skip(f"{NOT_COMPUTED}{', '.join(missing)} (not in the backend's PASSES)")


def require_backward(backend) -> None:
    """Skip the test unless the backend computes a backward pass (either one)."""
    if not any(backward_asks(backend)):
        require_passes(backend, kernels.BACKWARD_DATA, kernels.BACKWARD_WEIGHTS)


def backward_asks(backend) -> tuple[bool, bool]:
    """(compute_dx, compute_dw): the backward passes the backend declares."""
    declared = kernels.passes(backend)
    return kernels.BACKWARD_DATA in declared, kernels.BACKWARD_WEIGHTS in declared


def asked_only(backend, values):
    """(y, dx, dw, db) references with None for the backward passes the backend does not
    declare (so they are not compared)."""
    compute_dx, compute_dw = backward_asks(backend)
    y, dx, dw, db = values
    return (y, dx if compute_dx else None, dw if compute_dw else None,
            db if compute_dw else None)


def backward(backend, dy, cache):
    """(dx, dw, db) of the declared backward passes, None for the others: the combined call
    when both are declared, as a user of the contract makes it."""
    compute_dx, compute_dw = backward_asks(backend)
    if compute_dx and compute_dw:
        return backend.conv2d_backward(dy, cache)
    if not (compute_dx or compute_dw):
        return None, None, None
    return backend.conv2d_backward(dy, cache, compute_dx=compute_dx, compute_dw=compute_dw)


def assert_refuses(backend, x, w, b, params, reason) -> None:
    """A configuration out of the declared range is a ValueError (correctness), giving that
    reason (a house convention)."""
    try:
        backend.conv2d_forward(x, w, b, **params)
    except ValueError as e:
        if reason not in str(e):
            conventions.breach(conventions.RANGE_REASON, conventions.RANGE_HELPER,
                               f"{e!r} does not give the reason {reason!r}")
        return
    raise AssertionError(f"{backend.name} computed a configuration it says it does not: "
                         f"{reason}")


# --------------------------------------------------------------------------- conv and pools

def check_conv(backend, x, w, b=None, *, rng=None, dy=None, skip=True, **params):
    """Run backend conv forward and its declared backward passes and check y, dx, dw, db
    against naive in float64, within the bound of the algorithm's error model.

    A configuration out of the backend's declared range must be refused with its reason;
    then the test is skipped (skip=False, for property tests: the refusal is recorded and
    None returned). dy defaults to standard normal noise of the output's shape and x's
    dtype (drawn from rng). Returns (y, dx, dw, db) from the backend.
    """
    reason = declared_reason(backend, x, w, b, **params)
    if reason is not None:
        assert_refuses(backend, x, w, b, params, reason)
        record.out_of_range(reason)
        if skip:
            pytest.skip(OUT_OF_RANGE + reason)
        return None
    record.in_range(x.size + w.size)
    dtype = x.dtype
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    compute_dx, compute_dw = backward_asks(backend)
    dx_ref = dw_ref = db_ref = sdx = sdw = sdb = None
    if compute_dx or compute_dw:
        dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(dy)
    got = (y, *backward(backend, dy, cache))
    wanted = asked_only(backend, (y_ref, dx_ref, dw_ref, db_ref))
    assert_conv_close(computed_by(backend, cache), got,
                      dict(values=wanted, scales=(y_scale, sdx, sdw, sdb)), x, w, b, dy, params)
    return got


def check_max_pool(backend, x, kernel_size, *, rng=None, dy=None, **params):
    """Max pool: forward must equal naive exactly (same dtype, no arithmetic involved);
    backward is a sum of at most kh*kw routed dy values per input element, so it gets the
    rounding bound with K = kh*kw (overlapping windows may add them in another order)."""
    record.in_range(x.size)
    dtype, reference = x.dtype, naive()
    kh, kw = as_pair(kernel_size)
    y_ref, _ = reference.max_pool2d_forward(np.ascontiguousarray(x), kernel_size, **params)
    y, cache = backend.max_pool2d_forward(x, kernel_size, **params)
    assert isinstance(y, np.ndarray) and y.dtype == dtype, \
        f"{backend.name} max-pool y: dtype {getattr(y, 'dtype', type(y))}, expected {dtype}"
    assert y.shape == y_ref.shape, f"{backend.name} max-pool y: shape {y.shape} != {y_ref.shape}"
    np.testing.assert_array_equal(y, y_ref, err_msg=f"{backend.name} max-pool forward",
                                  strict=True)
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    # float32 -> float64 preserves order and ties, so the float64 argmax is the same.
    _, cache64 = reference.max_pool2d_forward(f64(x), kernel_size, **params)
    dx_ref = reference.max_pool2d_backward(f64(dy), cache64)
    scale = reference.max_pool2d_backward(abs64(dy), cache64)
    dx = backend.max_pool2d_backward(dy, cache)
    assert_within_rounding(dx, dx_ref, scale, kh * kw, dtype, f"{backend.name} max-pool dx")
    return y, dx


def check_avg_pool(backend, x, kernel_size, *, rng=None, dy=None, **params):
    """Avg pool forward/backward against naive float64. K = kh*kw + 2: at most kh*kw summed
    terms plus the division by kh*kw (done as a division, or as a multiplication by a rounded
    reciprocal: two roundings)."""
    record.in_range(x.size)
    dtype, reference = x.dtype, naive()
    kh, kw = as_pair(kernel_size)
    K = kh * kw + 2
    y_ref, cache64 = reference.avg_pool2d_forward(f64(x), kernel_size, **params)
    y_scale, _ = reference.avg_pool2d_forward(abs64(x), kernel_size, **params)
    y, cache = backend.avg_pool2d_forward(x, kernel_size, **params)
    assert_within_rounding(y, y_ref, y_scale, K, dtype, f"{backend.name} avg-pool y")
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    dx_ref = reference.avg_pool2d_backward(f64(dy), cache64)
    scale = reference.avg_pool2d_backward(abs64(dy), cache64)
    dx = backend.avg_pool2d_backward(dy, cache)
    assert_within_rounding(dx, dx_ref, scale, K, dtype, f"{backend.name} avg-pool dx")
    return y, dx
