"""Blocked backward-data: dx as the transposed problem, the tile in registers.

    dxp[n, c, i*sh + p*dh, j*sw + q*dw] += sum_f dy[n, f, i, j] * w[f, c, p, q]

For one output row i, T output pixels j0.. and one tap (p, q), the T input pixels this tap
reached in forward get, for one block of B input channels, sum over the group's filters of
dy (broadcast) x wt[.., f, :] (a vector over the B channels): forward's tile with the roles
of x and y and of the two channel axes swapped (wt is w transposed per tap). The tile sums
all Fg filters in registers, then is added to the padded gradient once. This is the scatter
form of the adjoint, so strides and dilations need no polyphase split and no zero-stuffed
dy, and only products the definition has are formed: an inf in w or dy reaches exactly the
entries the definition says (padding rows and columns are cropped afterwards).

Parallel over (image, input-channel block): a job scatters only into its own block of dx.
"""

from __future__ import annotations

import functools

from numba import prange

from ...support.jit import njit
from .registers import UNCACHED, stack_array


@functools.lru_cache(maxsize=None)
def _tile(B, T):
    SIZE = T * B

    @njit(**UNCACHED)
    def tile(dyb, wt, dxb, n, cblk, f0, Fgb, Fg, i, j0, sh, sw, dh, dw):
        kh, kw, width = wt.shape[2], wt.shape[3], wt.shape[4]
        acc = stack_array(SIZE, dxb.dtype)
        for p in range(kh):
            target = dxb[n, cblk, i * sh + p * dh]
            for q in range(kw):
                for k in range(SIZE):
                    acc[k] = 0
                for fb in range(Fgb):
                    lanes = min(width, Fg - fb * width)  # zero lanes past Fg add nothing
                    row = dyb[n, f0 + fb, i]
                    taps = wt[cblk, fb, p, q]
                    for f in range(lanes):
                        wrow = taps[f]
                        for t in range(T):
                            v = row[j0 + t, f]
                            for k in range(B):
                                acc[t * B + k] += v * wrow[k]
                for t in range(T):
                    for k in range(B):
                        target[(j0 + t) * sw + q * dw, k] += acc[t * B + k]

    return tile


@functools.lru_cache(maxsize=None)
def kernel(B, T, R):
    """The backward-data kernel for block width B and tiles of T then R pixels (see
    forward.pixels_per_tile): dxb (N, G*Cgb, Hp, Wp, B) = the scattered taps."""
    tile, last = _tile(B, T), _tile(B, max(R, 1))
    step = max(R, 1)

    @njit(parallel=True, **UNCACHED)
    def backward_data(dyb, wt, dxb, Cgb, Fgb, Fg, sh, sw, dh, dw):
        N, Ho, Wo = dyb.shape[0], dyb.shape[2], dyb.shape[3]
        NC = dxb.shape[1]
        full = Wo - Wo % T
        for job in prange(N * NC):
            n, cblk = job // NC, job % NC
            f0 = (cblk // Cgb) * Fgb
            dxb[n, cblk] = 0
            for i in range(Ho):
                for j0 in range(0, full, T):
                    tile(dyb, wt, dxb, n, cblk, f0, Fgb, Fg, i, j0, sh, sw, dh, dw)
                for j0 in range(full, Wo, step):
                    last(dyb, wt, dxb, n, cblk, f0, Fgb, Fg, i, j0, sh, sw, dh, dw)

    return backward_data
