"""A plug-in for tests/test_kernels/test_verify_conventions.py, registered through
CONVBENCH_BACKENDS as a user's would be: a numerically correct conv2d (window views and
einsum) that follows none of convbench's house conventions -

- it refuses bad arguments with a ValueError or TypeError of its own wording, naming no
  argument (and a non-array dy with a ValueError where the house says TypeError);
- it computes a dy of the other float dtype (NumPy's promotion: float64 dx, dw, db) instead
  of refusing the mix;
- it lets NumPy warn about the NaN and inf it propagates (no kernels.shapes.quiet_nonfinite);
- it computes dx alone with another summation order than the combined call's.

`python -m kernels verify owncheck` must pass it (exit 0) and list those conventions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import kernels
from kernels.shapes import conv2d_geometry, pad_nchw

POOLS = kernels.get_backend("im2col")  # NumPy pools, no Numba compile


class OwnChecks:
    """See the module docstring."""

    max_pool2d_forward = staticmethod(POOLS.max_pool2d_forward)
    max_pool2d_backward = staticmethod(POOLS.max_pool2d_backward)
    avg_pool2d_forward = staticmethod(POOLS.avg_pool2d_forward)
    avg_pool2d_backward = staticmethod(POOLS.avg_pool2d_backward)

    def __init__(self, name):
        self.name = name

    def conv2d_forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        try:
            geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                  groups=groups)
        except (ValueError, TypeError) as error:  # the class kept, the wording our own
            raise type(error)("invalid convolution arguments") from None
        windows = _windows(geo, pad_nchw(x, geo.pad))
        y = np.empty(geo.y_shape, dtype=x.dtype)
        for g in range(geo.groups):
            cs, fs = geo.group(g)
            y[:, fs] = np.einsum("nchwpq,fcpq->nfhw", windows[:, cs], w[fs], optimize=True)
        if b is not None:
            y += b[None, :, None, None]
        return y, (geo, x, w)

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        geo, x, w = cache
        if not isinstance(dy, np.ndarray) or isinstance(dy, np.ma.MaskedArray):
            raise ValueError("the gradient must be a plain array")  # house: TypeError
        if dy.shape != geo.y_shape:
            raise ValueError("the gradient does not fit the output")
        if dy.dtype.kind != "f":
            raise TypeError("the gradient must be floating point")
        dx = dw = db = None
        if compute_dw:
            windows = _windows(geo, pad_nchw(x, geo.pad))
            dw = np.empty(geo.w_shape, dtype=np.result_type(x, dy))
            for g in range(geo.groups):
                cs, fs = geo.group(g)
                dw[fs] = np.einsum("nfhw,nchwpq->fcpq", dy[:, fs], windows[:, cs],
                                   optimize=True)
            db = dy.sum(axis=(0, 2, 3), dtype=dw.dtype) if geo.has_bias else None
        if compute_dx:
            dx = _input_gradient(geo, dy, w, reverse=not compute_dw)
        return dx, dw, db


def _windows(geo, xp):
    """(N, C, Ho, Wo, kh, kw) view of the padded input."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    spans = ((geo.kh - 1) * dh + 1, (geo.kw - 1) * dw + 1)
    view = sliding_window_view(xp, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return view[:, :, :geo.Ho, :geo.Wo]


def _input_gradient(geo, dy, w, reverse):
    """dy scattered back through every tap; `reverse` visits the taps in the other order
    (the same sum, other roundings)."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    dxp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), dtype=np.result_type(w, dy))
    taps = [(p, q) for p in range(geo.kh) for q in range(geo.kw)]
    for p, q in (taps[::-1] if reverse else taps):
        rows = slice(p * dh, p * dh + sh * (geo.Ho - 1) + 1, sh)
        cols = slice(q * dw, q * dw + sw * (geo.Wo - 1) + 1, sw)
        for g in range(geo.groups):
            cs, fs = geo.group(g)
            dxp[:, cs, rows, cols] += np.einsum("nfhw,fc->nchw", dy[:, fs], w[fs, :, p, q])
    return geo.crop(dxp)


OWN_CHECKS = OwnChecks("owncheck")
