"""The polyphase split that lets the Numba convolution treat every stride as stride 1.

Deal the padded input's rows and columns into sh*sw phase planes,

    P[c, a, b][u, v] = xp[c, u*sh + a, v*sw + b]        (Hq x Wq, Hq = ceil(Hp / sh), ...)

zero-filled where u*sh + a >= Hp. The input row a strided, dilated tap reads,
i*sh + p*dh, is sh*(i + p*dh // sh) + p*dh % sh: row i + p*dh // sh of phase p*dh % sh; so
tap (p, q) reads one phase plane at the fixed offset (p*dh // sh, q*dw // sw), and

    y[f, i, j] = sum_{c, p, q} w[f, c, p, q] * P[c, phase(p, q)][i + p*dh//sh, j + q*dw//sw]

is a stride-1 sum of shifted planes again: conv.py's flat-row kernels run unchanged, on the
width Wq (a valid output never reads the zero fill: i + p*dh // sh <= (Hp - 1 - a) // sh).
Backward-data accumulates into phase planes and `undeal` (the adjoint: each plane back to
its rows and columns) rebuilds dxp; backward-weights dots dy with the planes kept from
forward. Cost: one copy of the input, parallel over the batch, made from x directly (the
padding is written in the same pass); stride 1 is one phase, and x padded as before.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ...support.jit import njit
from ...support.sizes import ceil_div

_JIT = dict(cache=True, nogil=True)


@njit(parallel=True, **_JIT)
def _deal(x, top, left, sh, sw, planes):
    """planes (N, C*sh*sw, Hq, Wq) from x (N, C, H, W) padded by (top, left): plane
    c*S + a*sw + b, row u, column v = xp[c, u*sh + a, v*sw + b] (0 in the padding)."""
    N, C, H, W = x.shape
    Hq, Wq = planes.shape[2], planes.shape[3]
    S = sh * sw
    for n in prange(N):
        for c in range(C):
            for a in range(sh):
                for b in range(sw):
                    plane = planes[n, c * S + a * sw + b]
                    for u in range(Hq):
                        row = u * sh + a - top
                        for v in range(Wq):
                            col = v * sw + b - left
                            inside = 0 <= row < H and 0 <= col < W
                            plane[u, v] = x[n, c, row, col] if inside else 0


@njit(parallel=True, **_JIT)
def _undeal(planes, top, left, sh, sw, dx):
    """The adjoint of _deal, cropped: every entry of the planes that came from inside x goes
    back to its place in dx (N, C, H, W); the padding's entries are dropped."""
    N, C, H, W = dx.shape
    Hq, Wq = planes.shape[2], planes.shape[3]
    S = sh * sw
    for n in prange(N):
        for c in range(C):
            for a in range(sh):
                for b in range(sw):
                    plane = planes[n, c * S + a * sw + b]
                    for u in range(Hq):
                        row = u * sh + a - top
                        if 0 <= row < H:
                            for v in range(Wq):
                                col = v * sw + b - left
                                if 0 <= col < W:
                                    dx[n, c, row, col] = plane[u, v]


def deal(x, geo):
    """(planes (N, C*S, Hq*Wq), Wq): the phase planes of x padded as geo says, flat."""
    (sh, sw), top, left = geo.stride, geo.pad[0], geo.pad[2]
    Hq, Wq = ceil_div(geo.Hp, sh), ceil_div(geo.Wp, sw)
    planes = np.empty((geo.N, geo.C * sh * sw, Hq, Wq), dtype=geo.dtype)
    _deal(np.ascontiguousarray(x), top, left, sh, sw, planes)
    return planes.reshape(geo.N, geo.C * sh * sw, Hq * Wq), Wq


def undeal(planes, geo, Wq):
    """dx (N, C, H, W) from the phase planes of dxp (N, C*S, Hq*Wq): the crop included."""
    (sh, sw), top, left = geo.stride, geo.pad[0], geo.pad[2]
    dx = np.empty(geo.x_shape, dtype=geo.dtype)
    _undeal(planes.reshape(planes.shape[0], planes.shape[1], -1, Wq), top, left, sh, sw, dx)
    return dx


def taps(geo, Wq):
    """(S, phase, offset, L): for each tap (p, q) the phase plane it reads and its flat
    offset on that plane (int64, kh x kw); L, the flat length of the output on the width Wq."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    rows = np.arange(geo.kh)[:, None] * dh
    cols = np.arange(geo.kw)[None, :] * dw
    phase = (rows % sh) * sw + cols % sw
    offset = (rows // sh) * Wq + cols // sw
    return sh * sw, phase.astype(np.int64), offset.astype(np.int64), (geo.Ho - 1) * Wq + geo.Wo
