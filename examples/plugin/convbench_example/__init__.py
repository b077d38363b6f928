"""An example plug-in backend: conv2d as window views contracted with einsum.

This module is the backend (kernels.Backend): the entry point `example = "convbench_example"`
in pyproject.toml puts it in convbench's registry. Forward, per group g:

    y[n, f, i, j] = b[f] + sum_{c, p, q} xp[n, c, i*s + p*d, j*s + q*d] * w[f, c, p, q]

where xp is x zero-padded. The two backward passes follow from the same sum:
dw[f, c, p, q] = sum_{n, i, j} dy[n, f, i, j] * xp[n, c, i*s + p*d, j*s + q*d] (the same
windows, contracted with dy), and dxp is dy scattered back through every tap (p, q) with
weight w[f, c, p, q], then cropped. Pooling is borrowed from convbench's Numba backend.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import kernels
from kernels.shapes import check_grad, conv2d_geometry, pad_nchw, quiet_nonfinite

name = "example"
POOLING_FROM = "numba"


def _pooling():  # asked for on first use: listing the backends does not import Numba
    return kernels.get_backend(POOLING_FROM)


def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    return _pooling().max_pool2d_forward(x, kernel_size, stride=stride, padding=padding)


def max_pool2d_backward(dy, cache):
    return _pooling().max_pool2d_backward(dy, cache)


def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    return _pooling().avg_pool2d_forward(x, kernel_size, stride=stride, padding=padding)


def avg_pool2d_backward(dy, cache):
    return _pooling().avg_pool2d_backward(dy, cache)


def unsupported(geometry):
    return None  # every geometry the contract allows


def _windows(geo, xp):
    """(N, C, Ho, Wo, kh, kw) view of the padded input: no copy."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    spans = ((geo.kh - 1) * dh + 1, (geo.kw - 1) * dw + 1)
    view = sliding_window_view(xp, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return view[:, :, :geo.Ho, :geo.Wo]


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    windows = _windows(geo, pad_nchw(x, geo.pad))
    y = np.empty(geo.y_shape, dtype=x.dtype)
    for g in range(geo.groups):
        cs, fs = geo.group(g)
        y[:, fs] = np.einsum("nchwpq,fcpq->nfhw", windows[:, cs], w[fs], optimize=True)
    if b is not None:
        y += b[None, :, None, None]
    return y, (geo, x, w)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    geo, x, w = cache
    check_grad(dy, geo)
    dx = dw_ = db = None
    if compute_dw:
        windows = _windows(geo, pad_nchw(x, geo.pad))
        dw_ = np.empty(geo.w_shape, dtype=x.dtype)
        for g in range(geo.groups):
            cs, fs = geo.group(g)
            dw_[fs] = np.einsum("nfhw,nchwpq->fcpq", dy[:, fs], windows[:, cs], optimize=True)
        db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
    if compute_dx:
        dx = _input_gradient(geo, dy, w)
    return dx, dw_, db


def _input_gradient(geo, dy, w, tap=None):
    tap = tap or _tap
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    dxp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), dtype=dy.dtype)
    for p in range(geo.kh):
        for q in range(geo.kw):
            rows = slice(p * dh, p * dh + sh * (geo.Ho - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (geo.Wo - 1) + 1, sw)
            for g in range(geo.groups):
                cs, fs = geo.group(g)
                dxp[:, cs, rows, cols] += np.einsum("nfhw,fc->nchw", dy[:, fs],
                                                    tap(w[fs], p, q, geo))
    return geo.crop(dxp)


def _tap(w, p, q, geo):
    """The (F, C) weights of tap (p, q)."""
    return w[:, :, p, q]
