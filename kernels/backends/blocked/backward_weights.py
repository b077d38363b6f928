"""Blocked backward-weights: the weight gradient dwf as a sum over the batch, split without
races (dh, dw below are the dilation).

    dwf[F_blk, cb, p, q, c, k] = sum_{n, i, j} xb[n, g*Cgb + cb, i*sh + p*dh, j*sw + q*dw, c]
                                               * dyb[n, F_blk, i, j, k]

The tile is C_T input lanes x one block of B filters (C_T*B sums in registers) for one tap
(p, q): each output pixel loads one dy vector (B filters), broadcasts C_T input values and
issues C_T FMAs. The lanes left over (all of them on a 1- or 3-channel image) take a tile of
taps instead: Q taps of one row x B filters for one lane, so no FMA multiplies a zero lane
(a C_T-lane tile on a 1-channel image did 8x the work). The reduction runs over images and
pixels, so the batch is the axis to split: it is cut into `chunks` contiguous ranges (one
per thread, at most N), every (range, filter block) is one parallel job writing a private
partial sum, and the partials are added in a fixed order at the end - no two jobs write the
same memory. Only real output
pixels are visited (no padded or dropped columns), so an inf reaches exactly the entries of
dwf the definition says.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from ...support.jit import njit
from .registers import UNCACHED, stack_array


def _lanes_per_tile(B: int) -> int:
    """C_T: 8 input lanes (8 independent FMA chains hide the FMA latency) or B's largest
    power-of-two divisor below that."""
    return next(t for t in (8, 4, 2, 1) if B % t == 0)


@functools.lru_cache(maxsize=None)
def _tile(B, CT):
    SIZE = CT * B

    @njit(**UNCACHED)
    def tile(xb, dyb, part, n_lo, n_hi, fblk, c_abs, cb, p, q, c_lo, sh, sw, dh, dw):
        Ho, Wo = dyb.shape[2], dyb.shape[3]
        acc = stack_array(SIZE, part.dtype)
        for k in range(SIZE):
            acc[k] = 0
        for n in range(n_lo, n_hi):
            for i in range(Ho):
                xrow = xb[n, c_abs, i * sh + p * dh]
                dyrow = dyb[n, fblk, i]
                for j in range(Wo):
                    dv = dyrow[j]
                    col = j * sw + q * dw
                    for t in range(CT):
                        v = xrow[col, c_lo + t]
                        for k in range(B):
                            acc[t * B + k] += v * dv[k]
        out = part[fblk, cb, p, q]
        for t in range(CT):
            for k in range(B):
                out[c_lo + t, k] = acc[t * B + k]

    return tile


@functools.lru_cache(maxsize=None)
def _tap_tile(B, Q):
    """Q taps (q0 .. q0+Q-1 of row p) x B filters for one input lane c: the tile for the
    lanes left over after the C_T-lane tiles (a 1- or 3-channel image has only those), so a
    missing lane costs no multiply-adds; the taps give Q independent FMA chains instead."""
    SIZE = Q * B

    @njit(**UNCACHED)
    def tile(xb, dyb, part, n_lo, n_hi, fblk, c_abs, cb, p, q0, c, sh, sw, dh, dw):
        Ho, Wo = dyb.shape[2], dyb.shape[3]
        acc = stack_array(SIZE, part.dtype)
        for k in range(SIZE):
            acc[k] = 0
        for n in range(n_lo, n_hi):
            for i in range(Ho):
                xrow = xb[n, c_abs, i * sh + p * dh]
                dyrow = dyb[n, fblk, i]
                for j in range(Wo):
                    dv = dyrow[j]
                    col = j * sw + q0 * dw
                    for t in range(Q):
                        v = xrow[col + t * dw, c]
                        for k in range(B):
                            acc[t * B + k] += v * dv[k]
        out = part[fblk, cb, p]
        for t in range(Q):
            for k in range(B):
                out[q0 + t, c, k] = acc[t * B + k]

    return tile


def taps_per_tile(kw: int) -> tuple[int, int]:
    """(Q, R): a row of kw taps in Q-tap tiles (at most TAPS), then one R-tap tile."""
    Q = min(kw, TAPS)
    return Q, kw % Q


TAPS = 8  # as many independent sums as the lane tile keeps


@functools.lru_cache(maxsize=None)
def kernel(B, Q, R):
    """The backward-weights kernel for block width B, with Q- and R-tap tiles for the lanes
    left over (taps_per_tile): partials (chunks, G*Fgb, Cgb, kh, kw, B, B), one per batch
    range."""
    CT = _lanes_per_tile(B)
    tile, taps, last = _tile(B, CT), _tap_tile(B, Q), _tap_tile(B, max(R, 1))

    @njit(parallel=True, **UNCACHED)
    def backward_weights(xb, dyb, partials, Cgb, Fgb, Cg, sh, sw, dh, dw):
        N = xb.shape[0]
        chunks, NF, _, kh, kw = partials.shape[:5]
        for job in prange(chunks * NF):
            chunk, fblk = job // NF, job % NF
            n_lo, n_hi = chunk * N // chunks, (chunk + 1) * N // chunks
            c0 = (fblk // Fgb) * Cgb
            part = partials[chunk]
            part[fblk] = 0
            for cb in range(Cgb):
                real = min(B, Cg - cb * B)  # lanes past Cg stay 0: x is 0 there
                full = real - real % CT
                for p in range(kh):
                    for q in range(kw):
                        for c_lo in range(0, full, CT):
                            tile(xb, dyb, part, n_lo, n_hi, fblk, c0 + cb, cb, p, q, c_lo,
                                 sh, sw, dh, dw)
                    for c in range(full, real):
                        for q0 in range(0, kw - kw % Q, Q):
                            taps(xb, dyb, part, n_lo, n_hi, fblk, c0 + cb, cb, p, q0, c,
                                 sh, sw, dh, dw)
                        if R:
                            last(xb, dyb, part, n_lo, n_hi, fblk, c0 + cb, cb, p,
                                 kw - R, c, sh, sw, dh, dw)

    return backward_weights


def batch_chunks(N: int, threads: int) -> int:
    """How many batch ranges: one per thread, never an empty one."""
    return max(1, min(N, threads))


def reduce_partials(partials: np.ndarray) -> np.ndarray:
    """The private partial sums added in a fixed order (range 0 first)."""
    total = partials[0].copy()
    for part in partials[1:]:
        total += part
    return total
