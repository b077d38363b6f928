"""A backend's conv results against a float64 reference, within the bound of its error model.

A backend says which analysis bounds its rounding with the optional attribute ERROR_MODEL:

    "direct"    (the default, any plug-in) a plain sum of products: the elementwise bound of
                `bounds` (C_BOUND * K * eps(dtype) * sum|terms|);
    "winograd"  componentwise, from the transform matrices (`winograd_bound`; needs the
                backend's tile size `m`);
    "fft"       normwise per output plane (`fft_bound`, for the pocketfft grid of
                kernels.backends.fft).

db is a plain sum in every algorithm, so it always gets the elementwise bound. A dispatcher's
results are judged by the model of the algorithm that computed them (`computed_by`).
"""

from __future__ import annotations

import numpy as np

import kernels
from kernels.conformance import record
from kernels.conformance.bounds import (assert_within_rounding, conv_reduction_lengths,
                                        error_bound, error_units)

ERROR_MODELS = ("direct", "winograd", "fft")
# The quantity -> the pass that computes it (db is a parameter gradient, as dw).
PASS_OF = {"y": kernels.FORWARD, "dx": kernels.BACKWARD_DATA, "dw": kernels.BACKWARD_WEIGHTS,
           "db": kernels.BACKWARD_WEIGHTS}


def naive():
    """The reference backend."""
    return kernels.get_backend("naive")


def f64(a):
    """A C-contiguous float64 copy, or None."""
    return None if a is None else np.array(a, dtype=np.float64)


def abs64(a):
    return None if a is None else np.abs(f64(a))


def conv_reference(x, w, b, **params):
    """Naive float64 reference of conv forward and its scale (conv of |x|, |w|, |b|).

    Returns (y, y_scale, backward) where backward(dy) -> (dx, dw, db, dx_scale, dw_scale,
    db_scale), all float64 (db and db_scale are None without a bias).
    """
    reference = naive()
    y, cache = reference.conv2d_forward(f64(x), f64(w), f64(b), **params)
    y_scale, cache_abs = reference.conv2d_forward(abs64(x), abs64(w), abs64(b), **params)

    def backward(dy):
        dx, dw, db = reference.conv2d_backward(f64(dy), cache)
        sdx, sdw, sdb = reference.conv2d_backward(abs64(dy), cache_abs)
        return dx, dw, db, sdx, sdw, sdb

    return y, y_scale, backward


def computed_by(backend, cache):
    """The algorithm that computed a forward pass: a dispatcher's choice, else the backend."""
    winner = kernels.capabilities(backend).winner
    return kernels.get_backend(winner(cache)) if winner else backend


def error_model(algorithm) -> str:
    """The algorithm's declared ERROR_MODEL (default "direct"); an unknown one fails."""
    model = kernels.capabilities(algorithm).error_model
    assert model in ERROR_MODELS, \
        f"{algorithm.name}: ERROR_MODEL {model!r} is not one of {ERROR_MODELS}"
    return model


def assert_conv_close(algorithm, got, ref, x, w, b, dy, params, what=""):
    """got = (y, dx, dw, db) of `algorithm` against ref = dict(values=(y, dx, dw, db),
    scales=(...)), a float64 reference of direct sums with the sum|terms| of each element,
    each within the bound of the algorithm's error model plus the reference's own error.
    A reference value of None (a pass that was not asked for) is not compared; each compared
    result's error units are recorded per pass."""
    dtype = np.dtype(x.dtype)
    names = ("y", "dx", "dw", "db")
    y_shape = ref["values"][0].shape
    K = conv_reduction_lengths(x, w, b, y_shape, params.get("groups", 1))
    if b is None:
        assert got[3] is None, f"{what} db must be None without a bias, got {got[3]!r}"
    model = error_model(algorithm)
    for name, value, want, scale in zip(names, got, ref["values"], ref["scales"]):
        if want is None:
            continue
        label = f"{algorithm.name} {name} ({PASS_OF[name]}){what}"
        if isinstance(value, np.ndarray) and value.shape == want.shape:
            _record_error(PASS_OF[name], value, want, scale, dtype)
        if model == "direct" or name == "db":  # db is a plain sum in every algorithm
            assert_within_rounding(value, want, scale, K[name], dtype, label)
        elif model == "winograd":
            from kernels.conformance import winograd_bound
            bound_scale, bound_K = winograd_bound.error_scale(algorithm, x, w, b, dy,
                                                              **params)[name]
            bound = winograd_bound.error_bound(bound_scale, bound_K, dtype, K[name])
            _assert_elementwise(value, want, bound, dtype, label)
        else:
            from kernels.conformance import fft_bound
            bound = fft_bound.error_bound(x, w, dy, b, **params)[name]
            reference_error = error_bound(scale, K[name], np.float64)  # elementwise
            _assert_planewise(value, want, bound, reference_error, dtype, label)


def _record_error(pass_name, got, want, scale, dtype):
    """The error in units where sum|terms| > 0, and apart whether an element is nonzero
    where the exact value is a sum of no nonzero terms (infinitely many units: a wrong tap
    landing on a zero there is a finite wrong value, not a non-finite one)."""
    units = error_units(got, want, scale, dtype)
    if units == np.inf:
        scaled = scale > 0
        with np.errstate(invalid="ignore"):
            off_zero = ~scaled & (np.abs(got.astype(np.float64) - want) > 0)
        if off_zero.any():
            record.nonzero_where_exact_is_zero(pass_name)
            units = error_units(got[scaled], want[scaled], scale[scaled], dtype)
    record.error(pass_name, units)


def _assert_elementwise(got, want, bound, dtype, what):
    assert isinstance(got, np.ndarray) and got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = np.abs(got.astype(np.float64) - want)
    bad = ~(err <= bound)
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, err / bound, 0)), err.shape)
        raise AssertionError(f"{what}: {int(bad.sum())}/{bad.size} elements outside the "
                             f"bound; worst at {worst}: {err[worst]:.3g} > {bound[worst]:.3g}")


def _assert_planewise(got, want, bound, reference_error, dtype, what):
    """||got - want||_2 per (N, C) plane within the bound plus the 2-norm of the reference's
    elementwise error bound."""
    assert isinstance(got, np.ndarray) and got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = np.sqrt(((got.astype(np.float64) - want) ** 2).sum(axis=(2, 3)))
    limit = bound + np.sqrt((reference_error ** 2).sum(axis=(2, 3)))
    if not np.all(err <= limit):
        worst = np.unravel_index(np.argmax(err / limit), err.shape)
        raise AssertionError(f"{what}: plane {worst} error {err[worst]:.3g} > bound "
                             f"{limit[worst]:.3g}")
