"""Winograd's transforms as two Numba kernels, each the other's adjoint: gather_tiles makes V
from x (L = B^T) and dM from dy (L = A); scatter_tiles makes y from M (L = A^T, plus the
bias) and dx from dV (L = B, overlapping tiles added).

Jobs are (plane, block of up to 64 images), run in parallel with prange; no two jobs write
the same output, so there are no races and results do not depend on the thread count. A
job's scratch holds the padded plane with the image innermost, so every inner loop is
unit-stride over images and vectorises; the padding is virtual (the scratch's border stays
zero) and the crop of dx happens on the way out: no padded copy of x, no dxp.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ...support.jit import njit
from ...support.sizes import ceil_div

_JIT = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"})


# Layout of V, M (and dM, dV): (nh*nw positions, planes, tiles); tile t = (ti*tw + tj) * N + n
# for image n of the N in the call, so a block of images of one tile is contiguous. A job is
# one plane (channel or filter) of a block of images; its scratch holds the padded plane with
# the image innermost, so every inner loop is unit-stride over images and vectorises (over
# tiles the loads have stride m and stay scalar: ~3x slower, measured). Zero coefficients are
# skipped. Plain loops: a Numba array expression would allocate a temporary per evaluation.


@njit(parallel=True, **_JIT)
def gather_tiles(src, top, left, Lh, Lw, m, th, tw, block, workers, out, t0):
    """out[i*nw + j, c, t0 + t] = (Lh d Lw^T)[i, j] for every tile d of src: rows ti*m ...
    ti*m + kh_in - 1 (kh_in = Lh's columns) of src zero-padded by top, likewise columns."""
    N, planes = src.shape[:2]
    rows, cols = (th - 1) * m + Lh.shape[1], (tw - 1) * m + Lw.shape[1]
    blocks = -(-N // block)
    jobs = planes * blocks
    workers = min(workers, jobs)
    for worker in prange(workers):  # jobs dealt round-robin; scratch allocated per worker
        plane = np.zeros((rows, cols, block), dtype=out.dtype)  # border stays 0: the padding
        part = np.empty((Lh.shape[0], cols, block), dtype=out.dtype)
        for job in range(worker, jobs, workers):
            _gather_plane(src, job // blocks, job % blocks * block, top, left, Lh, Lw, m, th,
                          tw, plane, part, out, t0)


@njit(**_JIT)
def _gather_plane(src, c, n0, top, left, Lh, Lw, m, th, tw, plane, part, out, t0):
    """gather_tiles for plane c of the images n0 ... n0 + nb - 1."""
    N, _, H, W = src.shape
    rows, cols, nb = plane.shape[0], plane.shape[1], min(plane.shape[2], N - n0)
    nh, nw = Lh.shape[0], Lw.shape[0]
    for n in range(nb):
        for row in range(min(H, rows - top)):
            for col in range(min(W, cols - left)):
                plane[top + row, left + col, n] = src[n0 + n, c, row, col]
    for ti in range(th):
        part[:] = 0  # part[i, col] = (Lh d)[i, col] for the row of tiles ti
        for i in range(nh):
            for k in range(Lh.shape[1]):
                coef = Lh[i, k]  # a local: LLVM cannot prove that the arrays do not alias
                if coef != 0:
                    for col in range(cols):
                        for n in range(nb):
                            part[i, col, n] += coef * plane[ti * m + k, col, n]
        for tj in range(tw):
            t = t0 + (ti * tw + tj) * N + n0
            for i in range(nh):
                for j in range(nw):
                    dst = out[i * nw + j, c, t:t + nb]
                    dst[:] = 0
                    for q in range(Lw.shape[1]):
                        coef = Lw[j, q]
                        if coef != 0:
                            for n in range(nb):
                                dst[n] += coef * part[i, tj * m + q, n]


@njit(parallel=True, **_JIT)
def scatter_tiles(src, Lh, Lw, m, th, tw, top, left, bias, has_bias, block, workers, out):
    """The adjoint of gather_tiles: overlap-add the tiles Lh S Lw^T (S[i, j] = src[i*nw + j,
    c, t]) at stride m, crop by (top, left) to out's size, add bias[c] if has_bias."""
    N, planes = out.shape[:2]
    rows, cols = (th - 1) * m + Lh.shape[0], (tw - 1) * m + Lw.shape[0]
    blocks = -(-N // block)
    jobs = planes * blocks
    workers = min(workers, jobs)
    for worker in prange(workers):
        plane = np.empty((rows, cols, block), dtype=out.dtype)
        part = np.empty((Lw.shape[0], block), dtype=out.dtype)
        for job in range(worker, jobs, workers):
            _scatter_plane(src, job // blocks, job % blocks * block, Lh, Lw, m, th, tw, top,
                           left, bias, has_bias, plane, part, out)


@njit(**_JIT)
def _scatter_plane(src, c, n0, Lh, Lw, m, th, tw, top, left, bias, has_bias, plane, part, out):
    """scatter_tiles for plane c of the images n0 ... n0 + nb - 1."""
    N, _, H, W = out.shape
    rows, cols, nb = plane.shape[0], plane.shape[1], min(plane.shape[2], N - n0)
    nh, nw = Lh.shape[1], Lw.shape[1]
    plane[:] = 0
    for ti in range(th):
        for tj in range(tw):
            t = (ti * tw + tj) * N + n0
            for i in range(nh):
                part[:] = 0  # part[q] = (S Lw^T)[i, q] of this tile
                for j in range(nw):
                    tile = src[i * nw + j, c, t:t + nb]
                    for q in range(Lw.shape[0]):
                        coef = Lw[q, j]
                        if coef != 0:
                            for n in range(nb):
                                part[q, n] += coef * tile[n]
                for k in range(Lh.shape[0]):
                    coef = Lh[k, i]
                    if coef != 0:
                        for q in range(Lw.shape[0]):
                            dst = plane[ti * m + k, tj * m + q]
                            for n in range(nb):
                                dst[n] += coef * part[q, n]
    for n in range(nb):  # the tiles cover the padded input: every pixel of out is set
        for row in range(min(H, rows - top)):
            for col in range(min(W, cols - left)):
                value = plane[top + row, left + col, n]
                out[n0 + n, c, row, col] = value + bias[c] if has_bias else value


def parallelism(planes, images):
    """(images per job, workers) for the tile kernels: up to 64 images per job for long
    vectors (16 ran 2-3x slower), fewer when the planes are too few to make 4 jobs for 2
    threads. Scratch is allocated per worker (4 per thread), not per job."""
    per_job = min(images, 64, max(8, ceil_div(images, ceil_div(4, planes))))
    return per_job, 4 * numba.get_num_threads()
