"""What is particular to the FFT backend (the conformance, property and oracle suites cover it
like every backend, with the bound of kernels/conformance/fft_bound.py): chunking and its recomputed spectra,
the honest workspace, the skipped passes, the spectra reused from forward, the contract for
unsupported configurations, the documented spreading of NaN, and a bound tight enough to
catch a wrong tap."""

from __future__ import annotations

import numpy as np
import pytest

import kernels.backends.fft as fft
from kernels.conformance import fft_bound
from kernels.conformance.checks import check_conv as check_backend
from kernels.conformance.checks import conv_inputs
from kernels.shapes import conv2d_geometry


def make_inputs(rng, N, C, H, W, F, kh, kw, groups=1, bias=True, dtype=np.float64):
    return conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw, groups=groups, bias=bias,
                       dtype=dtype)


def check_conv(x, w, b=None, **params):
    return check_backend(fft, x, w, b, **params)


def test_chunked_batch_recomputes_spectra(monkeypatch):
    """Under a tiny cap the batch is chunked, X is not kept, backward recomputes it."""
    rng = np.random.default_rng(4)
    x, w, b = make_inputs(rng, N=5, C=3, H=10, W=9, F=4, kh=3, kw=3)
    geo = conv2d_geometry(x, w, b, padding=1)
    ws = fft.workspace(geo)
    monkeypatch.setattr(fft, "MAX_WORKSPACE_BYTES", ws["fixed"] + 2 * ws["per_image"])
    assert fft.workspace(geo)["chunk"] == 2
    _, cache = fft.conv2d_forward(x, w, b, padding=1)
    assert cache[2] is None, "a chunked forward must not keep the whole batch's spectrum"
    calls = _count(monkeypatch, "_input_spectrum")
    check_conv(x, w, b, rng=rng, padding=1)
    assert calls["n"] == 3 + 3  # forward: 3 chunks; backward: recomputed for the 3 chunks


def test_workspace_is_reported_honestly_when_weights_exceed_the_cap():
    x = np.zeros((1, 256, 64, 64), np.float32)
    w = np.zeros((256, 256, 3, 3), np.float32)
    ws = fft.workspace(conv2d_geometry(x, w, padding=1))
    assert ws["fixed"] > fft.MAX_WORKSPACE_BYTES and ws["chunk"] == 1
    assert ws["total"] == ws["fixed"] + ws["per_image"]


def _count(monkeypatch, function_name):
    calls = {"n": 0}
    original = getattr(fft, function_name)

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(fft, function_name, counted)
    return calls


@pytest.mark.parametrize("compute_dx, compute_dw", [(True, True), (True, False), (False, True),
                                                    (False, False)])
def test_backward_flags_skip_the_work(monkeypatch, compute_dx, compute_dw):
    rng = np.random.default_rng(5)
    x, w, b = make_inputs(rng, N=2, C=3, H=8, W=8, F=4, kh=3, kw=3)
    y, cache = fft.conv2d_forward(x, w, b, padding=1)
    dy = rng.standard_normal(y.shape)
    full = fft.conv2d_backward(dy, cache)
    inverse, taps = _count(monkeypatch, "_irfft2"), _count(monkeypatch, "_weight_taps")
    grad = _count(monkeypatch, "_grad_spectrum")
    dx, dw, db = fft.conv2d_backward(dy, cache, compute_dx=compute_dx, compute_dw=compute_dw)
    assert inverse["n"] == compute_dx and taps["n"] == compute_dw
    assert grad["n"] == (1 if compute_dx or compute_dw else 0)
    assert (dx is None) != compute_dx and (dw is None) != compute_dw and (db is None) != compute_dw
    for got, want in zip((dx, dw, db), full, strict=True):
        if got is not None:
            np.testing.assert_array_equal(got, want)


def test_backward_reuses_the_forward_spectra(monkeypatch):
    rng = np.random.default_rng(6)
    x, w, b = make_inputs(rng, N=3, C=2, H=9, W=9, F=3, kh=5, kw=5)
    y, cache = fft.conv2d_forward(x, w, b, padding=2)
    inputs = _count(monkeypatch, "_input_spectrum")
    kernels_ = _count(monkeypatch, "_kernel_spectrum")
    fft.conv2d_backward(np.ones_like(y), cache)
    assert inputs["n"] == 0 and kernels_["n"] == 0


# --------------------------------------------------------------------------- contract

def test_unsupported_is_none_for_every_valid_geometry():
    x, w, _ = make_inputs(np.random.default_rng(0), N=1, C=4, H=9, W=9, F=4, kh=3, kw=2)
    for params in (dict(stride=3), dict(dilation=(3, 2)), dict(groups=4, padding="same"),
                   dict(padding=(4, 0), stride=(2, 1))):
        assert fft.unsupported(conv2d_geometry(x, w[:, :4 // params.get("groups", 1)],
                                               **params)) is None


def test_unsupported_configuration_raises_value_error_with_the_reason(monkeypatch):
    monkeypatch.setattr(fft, "unsupported", lambda geo: "stride 2 is not computed here")
    x, w, _ = make_inputs(np.random.default_rng(0), N=1, C=1, H=5, W=5, F=1, kh=3, kw=3)
    with pytest.raises(ValueError, match="stride 2 is not computed here"):
        fft.conv2d_forward(x, w, stride=2)


def test_nan_spreads_over_the_whole_plane_as_documented():
    """Not the naive pattern (only windows touching the NaN): documented, not emulated."""
    x, w, _ = make_inputs(np.random.default_rng(0), N=2, C=2, H=8, W=8, F=3, kh=3, kw=3)
    x[1, 0, 0, 0] = np.nan
    y, _ = fft.conv2d_forward(x, w, padding=1)
    assert np.isnan(y[1]).all() and np.isfinite(y[0]).all()


@pytest.mark.parametrize("params", [dict(padding=1), dict(padding=2, dilation=2),
                                    dict(stride=2, padding=1), dict(groups=2)])
def test_the_float64_bound_has_teeth(params):
    """In float64 the bound is below 1e-6 of every output plane's norm, so a wrong tap, offset,
    reversal or missing chunk (which moves a plane by O(its norm)) cannot pass."""
    rng = np.random.default_rng(12)
    x, w, b = make_inputs(rng, N=2, C=4, H=9, W=8, F=4, kh=3, kw=3,
                          groups=params.get("groups", 1))
    y, cache = fft.conv2d_forward(x, w, b, **params)
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = fft.conv2d_backward(dy, cache)
    bounds = fft_bound.error_bound(x, w, dy, b, **params)
    for name, got in (("y", y), ("dx", dx), ("dw", dw)):
        norm = np.sqrt((got ** 2).sum(axis=(2, 3)))
        assert np.all(bounds[name] <= 1e-6 * norm), name


def test_a_wrong_tap_is_caught(monkeypatch):
    """The same check that every FFT result passes fails when the kernel's spectrum is built
    with its taps one row off."""
    real = fft._kernel_spectrum

    def shifted(w, geo, P, Q):
        return real(np.roll(w, 1, axis=2), geo, P, Q)
    monkeypatch.setattr(fft, "_kernel_spectrum", shifted)
    x, w, b = make_inputs(np.random.default_rng(1), N=1, C=2, H=6, W=6, F=2, kh=3, kw=3)
    with pytest.raises(AssertionError, match="plane"):
        check_conv(x, w, b, padding=1)
