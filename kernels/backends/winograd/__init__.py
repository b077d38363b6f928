"""Winograd backends: minimal filtering F(m x m, kh x kw) - winograd2x2 (m = 2) and
winograd4x4 (m = 4) - forward and both backward passes.

In 2-D, per tile d (nh x nw inputs, stride m, zero padding), with the one-axis matrices of
transforms.py (Ah, Bh, Gh for the rows, Aw, Bw, Gw for the columns):

    V = Bh^T d Bw,  U = Gh g Gw^T,  M[f] = sum_c U[f, c] * V[c],  Y = Ah^T M[f] Aw  (cropped)

and the channel sum is, per transform position (nh nw of them), one GEMM (Fg x Cg) @ (Cg x
tiles) through np.matmul. Backward by the transposition principle: every stage is linear, so
the adjoint runs the transposed stages in reverse - itself a Winograd algorithm, for the
transposed problem:

    dM = Ah dY Aw^T;  dU = sum over tiles dM[f] * V[c] (GEMM (Fg x tiles) @ (tiles x Cg), V
    kept from forward);  dw = Gh^T dU Gw;  dV = sum_f U[f, c] * dM[f] (GEMM (Cg x Fg) @ (Fg x
    tiles));  dx = overlap-add of the tiles Bh dV Bw^T (the adjoint of the tile gather).

The four transforms are the Numba kernels of tiles.py; U and dw are computed in float64 and
rounded once (they are tiny: F*Cg*nh*nw), so the 1/3-like entries of G never round the data.

Speed. The GEMMs do nh nw / (m^2 kh kw) of direct convolution's multiplies: 1/2.25 for F(2,3),
1/4 for F(4,3). The transforms are parallel passes over V and M (nh nw / m^2 times the input
or output: 4x for F(2,3), 2.25x for F(4,3)), about half the time on 3x3 layers with 32-64
channels - cheaper than im2col's kh kw-fold column copy and col2im. Slower than im2col when
few channels make the GEMMs short, and far slower with one input channel (M is F times V).
Measured slower and dropped: a Kronecker (n^2 x n^2) GEMM on NumPy-gathered tiles (3-8x),
Numba loops vectorised over tiles instead of images (~3x).
Memory: V (C tiles nh nw), M or dM (F ...), dV; batch chunks keep it under
MAX_WORKSPACE_BYTES. V is kept for backward when the whole batch's V fits in half the cap,
else recomputed per chunk (as im2col rebuilds its columns).

Limits (`unsupported`): stride 1, dilation 1, kernels of at least 2 taps per axis (one saves
nothing), tiles n <= 6 per axis in float32 (F(2,2..5), F(4,2..3)) and <= 8 in float64.

Non-finite values: the transforms mix a tile's values (inf - inf = NaN), so a NaN/inf in x
makes non-finite the outputs naive makes non-finite and maybe every other output of the tiles
that read it (their m x m blocks); a non-finite weight poisons its filter. Not naive's
pattern. Rounding: a componentwise bound from the transform norms, derived in
kernels/conformance/winograd_bound.py (the algorithm re-run on |x|, |w| with |A|, |B|, |G|).
Pooling is not a convolution: the registry lends these backends the shared pooling
(kernels.backends.pooling, POOLING_FROM).
"""

from __future__ import annotations

import types

import numpy as np

from ...shapes import check_grad, conv2d_geometry, quiet_nonfinite
from ...support import blas
from ...support.sizes import WORKSPACE_CAP, ceil_div
from .tiles import gather_tiles, parallelism, scatter_tiles
from .transforms import MAX_TILE, transform


class Winograd:
    """F(m x m, kh x kw) as a backend; absolute=True runs it with |A|, |B|, |G| (the tests'
    rounding bound is this algorithm run on absolute values)."""

    #: Cap on the workspace (V, M or dM, dV) of one conv call, in bytes.
    MAX_WORKSPACE_BYTES = WORKSPACE_CAP
    #: Below this many flops per GEMM call (`gemm_flops`) a pass runs BLAS on one thread.
    BLAS_ONE_THREAD_BELOW = 2_000_000  # where 2 threads start to pay: docs/backends.md
    #: A non-finite value spreads through the tiles that read it (see the module docstring).
    NONFINITE_SPREADS = True
    #: Rounding: the componentwise bound of kernels/conformance/winograd_bound.py.
    ERROR_MODEL = "winograd"
    POOLING_FROM = "numba"

    def __init__(self, m, *, absolute=False):
        self.m, self.absolute = m, absolute
        self.name = f"winograd{m}x{m}"

    def __repr__(self):
        return f"<backend {self.name}: Winograd F({self.m}x{self.m}, k x k)>"

    def unsupported(self, geo):
        """None if this backend computes `geo`, else a short reason."""
        if geo.stride != (1, 1):
            return f"winograd needs stride 1, got stride {geo.stride}"
        if geo.dilation != (1, 1):
            return f"winograd needs dilation 1, got dilation {geo.dilation}"
        if min(geo.kh, geo.kw) < 2:
            return f"winograd needs kernels of at least 2x2, got {geo.kh}x{geo.kw}"
        n_max = MAX_TILE[np.dtype(geo.dtype)]
        if max(geo.kh, geo.kw) > n_max - self.m + 1:
            k = n_max - self.m + 1
            return (f"{self.name} supports kernels up to {k}x{k} in {geo.dtype} (tile m + k - 1"
                    f" <= {n_max}: larger tiles lose too much accuracy), got {geo.kh}x{geo.kw}")
        return None

    def plan(self, geo, itemsize):
        """(images per chunk, keep V for backward), so the workspace stays under the cap."""
        positions = (self.m + geo.kh - 1) * (self.m + geo.kw - 1)
        per_tile = positions * ceil_div(geo.Ho, self.m) * ceil_div(geo.Wo, self.m) * itemsize
        v, mf = per_tile * geo.C, per_tile * geo.F  # bytes of V, and of M or dM, per image
        cap = self.MAX_WORKSPACE_BYTES
        keep_V = geo.N * v <= cap // 2  # then a chunk needs only dM and dV
        chunk = (cap - geo.N * v) // (v + mf) if keep_V else cap // (2 * v + mf)
        if chunk < geo.N and chunk >= 16:  # whole vectors: 41 images ran 1.4x slower than 32
            chunk -= chunk % 16
        chunk = max(1, min(geo.N, chunk))
        return chunk, keep_V or chunk == geo.N

    def chunks(self, geo, itemsize):
        step = self.plan(geo, itemsize)[0]
        return [(n, min(n + step, geo.N)) for n in range(0, geo.N, step)]

    def chunk_count(self, geo, itemsize) -> int:
        """How many batch chunks a conv call of this geometry takes under the cap."""
        return len(self.chunks(geo, itemsize))

    def gemm_flops(self, geo) -> int:
        """Flops of one of the pass's GEMM calls: (Fg x Cg) @ (Cg x tiles) per position and
        group, the tiles of a chunk's images (backward's products have the same sizes)."""
        tiles = ceil_div(geo.Ho, self.m) * ceil_div(geo.Wo, self.m)
        return 2 * geo.Fg * geo.Cg * self.plan(geo, geo.dtype.itemsize)[0] * tiles

    def _setup(self, geo):
        """Transform matrices (data dtype, or float64 for G) and tile counts."""
        h, w = transform(self.m, geo.kh), transform(self.m, geo.kw)
        fix = np.abs if self.absolute else (lambda X: X)
        data = {name: np.ascontiguousarray(fix(X).astype(geo.dtype)) for name, X in
                dict(BhT=h.B.T, BwT=w.B.T, Bh=h.B, Bw=w.B, Ah=h.A, Aw=w.A, AhT=h.A.T,
                     AwT=w.A.T).items()}
        th, tw = ceil_div(geo.Ho, self.m), ceil_div(geo.Wo, self.m)
        return types.SimpleNamespace(**data, Gh=fix(h.G), Gw=fix(w.G), th=th, tw=tw,
                                     tiles=th * tw, positions=h.n * w.n)

    def _input_tiles(self, x, geo, s, V=None, t0=0):
        """V of the images x, written into V[:, :, t0:] when given; returns that slice."""
        count = x.shape[0] * s.tiles
        if V is None:
            V, t0 = np.empty((s.positions, geo.C, count), dtype=geo.dtype), 0
        gather_tiles(x, geo.pad[0], geo.pad[2], s.BhT, s.BwT, self.m, s.th, s.tw,
                      *parallelism(geo.C, x.shape[0]), V, t0)
        return V[:, :, t0:t0 + count]

    @quiet_nonfinite
    def conv2d_forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        """V of each chunk, one GEMM per position, the output transform; V kept if it fits."""
        geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                              groups=groups)
        reason = self.unsupported(geo)
        if reason:
            raise ValueError(reason)
        with blas.gemm_threads(self.gemm_flops(geo), self.BLAS_ONE_THREAD_BELOW):
            x, s = np.ascontiguousarray(x), self._setup(geo)
            # U = Gh g Gw^T: two r-term sums in float64, rounded once to the dtype.
            U = np.tensordot(np.tensordot(s.Gh, w.astype(np.float64), axes=(1, 2)), s.Gw, (3, 1))
            U = U.transpose(0, 3, 1, 2).reshape(s.positions, geo.groups, geo.Fg, geo.Cg)
            U = U.astype(geo.dtype)
            keep_V, chunks = self.plan(geo, x.itemsize)[1], self.chunks(geo, x.itemsize)
            V_all = np.empty((s.positions, geo.C, geo.N * s.tiles), geo.dtype) if keep_V else None
            bias = np.zeros(1, geo.dtype) if b is None else np.ascontiguousarray(b)
            y = np.empty(geo.y_shape, dtype=geo.dtype)
            for n0, n1 in chunks:
                V = self._input_tiles(x[n0:n1], geo, s, V_all, n0 * s.tiles)
                M = np.matmul(U, V.reshape(s.positions, geo.groups, geo.Cg, -1))
                scatter_tiles(M.reshape(s.positions, geo.F, -1), s.AhT, s.AwT, self.m, s.th, s.tw,
                               0, 0, bias, b is not None, *parallelism(geo.F, n1 - n0), y[n0:n1])
                del V, M  # before the next chunk allocates its own
            # Backward keeps forward's chunks: V_all's tile order is per chunk.
            return y, (None if keep_V else x, U, V_all, chunks, geo)

    @quiet_nonfinite
    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        """dM once per chunk; dU = dM V^T and dV = U^T dM, each only if asked for."""
        x, U, V_all, chunks, geo = cache
        dy, s = np.ascontiguousarray(check_grad(dy, geo)), self._setup(geo)
        with blas.gemm_threads(self.gemm_flops(geo), self.BLAS_ONE_THREAD_BELOW):
            dx = np.empty(geo.x_shape, dtype=geo.dtype) if compute_dx else None
            dU = np.zeros(U.shape, dtype=geo.dtype) if compute_dw else None
            for n0, n1 in chunks if compute_dx or compute_dw else []:
                dM = np.empty((s.positions, geo.F, (n1 - n0) * s.tiles), dtype=geo.dtype)
                gather_tiles(dy[n0:n1], 0, 0, s.Ah, s.Aw, self.m, s.th, s.tw,
                              *parallelism(geo.F, n1 - n0), dM, 0)
                dM = dM.reshape(s.positions, geo.groups, geo.Fg, -1)
                if compute_dw:
                    V = (self._input_tiles(x[n0:n1], geo, s) if V_all is None
                         else V_all[:, :, n0 * s.tiles:n1 * s.tiles])
                    dU += np.matmul(dM, V.reshape(s.positions, geo.groups, geo.Cg, -1)
                                    .transpose(0, 1, 3, 2))
                    del V
                if compute_dx:
                    dV = np.matmul(U.transpose(0, 1, 3, 2), dM).reshape(s.positions, geo.C, -1)
                    scatter_tiles(dV, s.Bh, s.Bw, self.m, s.th, s.tw, geo.pad[0], geo.pad[2],
                                   np.zeros(1, geo.dtype), False, *parallelism(geo.C, n1 - n0),
                                   dx[n0:n1])
                    del dV
                del dM
            if not compute_dw:
                return dx, None, None
            db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
            return dx, _filter_gradient(dU, s, geo), db


def _filter_gradient(dU, s, geo):
    """dw = Gh^T dU Gw (the adjoint of the filter transform): two n-term sums in float64,
    rounded once. dU (positions, groups, Fg, Cg) -> dw (F, Cg, kh, kw)."""
    dU = dU.reshape(s.Gh.shape[0], s.Gw.shape[0], geo.F, geo.Cg).astype(np.float64)
    dw = np.tensordot(np.tensordot(s.Gh, dU, axes=(0, 0)), s.Gw, axes=(1, 0))
    return np.ascontiguousarray(dw.transpose(1, 2, 0, 3)).astype(geo.dtype)


winograd2x2, winograd4x4 = Winograd(2), Winograd(4)
