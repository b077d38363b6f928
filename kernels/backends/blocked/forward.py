"""Blocked forward pass: y = x * w with the output tile in registers.

    yb[n, F_blk, i, j, k] = sum_{cb, p, q, c} xb[n, g*Cgb + cb, i*sh + p*dh, j*sw + q*dw, c]
                                                * wf[F_blk, cb, p, q, c, k]

(g = F_blk // Fgb, the block's group). The tile is T output pixels (j0 .. j0+T-1 of row i) x
one block of B filters: T*B sums held in registers while the loops run over the group's
input blocks, the taps and the B input lanes. Each step loads one weight vector
wf[.., c, :] (B filters), broadcasts T input values x[.., c] and issues T vector FMAs: the
weight vector is reused T times and the input value B times, so the kernel runs at the FMA
rate, not the load rate (Zhang, Franchetti & Low 2018; oneDNN's nChw16c kernels).
Strides and dilations only change which pixels are broadcast, so every configuration runs
the same tile; T (5-8) is chosen per layer to cut rows into the fewest tiles, and a row's
last Wo % T pixels take one narrower tile. The loop over input lanes
stops at the group's last real channel (a 1-channel image runs 1 lane, not B).

Parallel over (image, filter block): no two jobs write the same output.
"""

from __future__ import annotations

import functools

from numba import prange

from ...support.jit import njit
from ...support.sizes import ceil_div
from .registers import UNCACHED, stack_array

PIXELS = 8  # the widest tile: 8 sums of B lanes in registers, FMA latency hidden
TILE_WIDTHS = (8, 7, 6, 5)  # tiles of 4 and fewer pixels came out scalar in some compilations


def pixels_per_tile(Wo: int) -> tuple[int, int]:
    """(T, R): T-pixel tiles for a row of Wo pixels, then one R-pixel tile (R = Wo % T).
    The fewest tiles, preferring a T that divides Wo (convnet's 14: 7 + 7, not 8 + 6)."""
    T = min(TILE_WIDTHS, key=lambda t: (ceil_div(Wo, t), Wo % t != 0, -t))
    return T, Wo % T


@functools.lru_cache(maxsize=None)
def _tile(B, T):
    SIZE = T * B

    @njit(**UNCACHED)
    def tile(xb, wf, yb, n, fblk, c0, Cgb, Cg, i, j0, sh, sw, dh, dw):
        kh, kw, width = wf.shape[2], wf.shape[3], wf.shape[4]
        acc = stack_array(SIZE, yb.dtype)
        for k in range(SIZE):
            acc[k] = 0
        for cb in range(Cgb):
            lanes = min(width, Cg - cb * width)  # the zero lanes past Cg add nothing
            for p in range(kh):
                row = xb[n, c0 + cb, i * sh + p * dh]
                for q in range(kw):
                    taps = wf[fblk, cb, p, q]
                    for c in range(lanes):
                        wrow = taps[c]
                        for t in range(T):
                            v = row[(j0 + t) * sw + q * dw, c]
                            for k in range(B):
                                acc[t * B + k] += v * wrow[k]
        out = yb[n, fblk, i]
        for t in range(T):
            for k in range(B):
                out[j0 + t, k] = acc[t * B + k]

    return tile


@functools.lru_cache(maxsize=None)
def kernel(B, T, R):
    """The forward kernel for block width B, T-pixel tiles and an R-pixel last tile per row
    (compiled on first use in each process)."""
    tile, last = _tile(B, T), _tile(B, max(R, 1))
    step = max(R, 1)

    @njit(parallel=True, **UNCACHED)
    def forward(xb, wf, yb, Cgb, Fgb, Cg, sh, sw, dh, dw):
        N, NF, Ho, Wo = yb.shape[0], yb.shape[1], yb.shape[2], yb.shape[3]
        full = Wo - Wo % T
        for job in prange(N * NF):
            n, fblk = job // NF, job % NF
            c0 = (fblk // Fgb) * Cgb
            for i in range(Ho):
                for j0 in range(0, full, T):
                    tile(xb, wf, yb, n, fblk, c0, Cgb, Cg, i, j0, sh, sw, dh, dw)
                for j0 in range(full, Wo, step):
                    last(xb, wf, yb, n, fblk, c0, Cgb, Cg, i, j0, sh, sw, dh, dw)

    return forward
