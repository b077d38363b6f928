"""The rounding bound the conformance suite holds the Winograd backends to (ERROR_MODEL =
"winograd"), derived from the transform matrices (never calibrated on observed errors).

Rounding (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3). Every stage of the
algorithm is a sum of products with constants or data; expand a result into its terms
(products of inputs and constants). In floating point each term picks up one factor
(1 + delta), |delta| <= u, per operation on its path - so at most K = the sum of the lengths
of the sums along the chain (in any order, BLAS blocking or FMA included), plus one per
constant rounded to binary (1/6) and per cast. Hence |fl(q) - q| <= gamma_K q_abs,
gamma_K = K u / (1 - K u) (Lemma 3.1), where q_abs, the sum of the terms' absolute values, is
the algorithm run on |x|, |w|, |b|, |dy| with |A|, |B|, |G| (`error_scale`, in float64).
With s(L) = the most nonzeros in a row of L, e(X) = 1 per axis where X has rounded entries,
ov = ceil(nh / m) ceil(nw / m) tiles over a pixel:
    K_U  = s(Gh) + s(Gw) + e(G) + 1        (U summed in float64, rounded once)
    K_V  = s(Bh^T) + s(Bw^T) + e(B);       K_dM = s(Ah) + s(Aw) + e(A)
    K_y  = K_U + K_V + Cg + s(Ah^T) + s(Aw^T) + e(A) + [bias]
    K_dx = K_dM + K_U + Fg + s(Bw) + s(Bh) ov + e(B)
    K_dw = K_dM + K_V + N tiles + N + s(Gh^T) + s(Gw^T) + e(G) + 1 (N: chunks <= N)
    K_db = N Ho Wo.
q_abs exceeds direct convolution's sum|terms| by the tile mixing (max over elements ~17x for
F(2,3), ~300x for F(4,3) on 32-64-channel layers, ~1800x with one channel), so the bound is
loose but never calibrated. The float64 reference's own error is bounded with the same scale:
each direct term's coefficient 1 is a sum of Winograd products whose absolute values q_abs
adds, so the direct sum|terms| is at most q_abs.
"""

from __future__ import annotations

import numpy as np

from kernels.backends.winograd import Winograd
from kernels.backends.winograd.transforms import transform
from kernels.shapes import conv2d_geometry
from kernels.support.sizes import ceil_div


def reduction_lengths(backend, geo):
    """K of y, dx, dw, db: the rounding steps along each chain (module docstring)."""
    h, w, m = transform(backend.m, geo.kh), transform(backend.m, geo.kw), backend.m

    def s(name):
        return h.terms[name] + w.terms[name]

    def e(name):
        return h.rounded[name] + w.rounded[name]
    K_U, K_V, K_dM = s("G") + e("G") + 1, s("Bt") + e("B"), s("A") + e("A")
    overlap = ceil_div(h.n, m) * ceil_div(w.n, m)  # tiles over one input pixel
    tiles = geo.N * ceil_div(geo.Ho, m) * ceil_div(geo.Wo, m)
    return {"y": K_U + K_V + geo.Cg + s("At") + e("A") + geo.has_bias,
            "dx": K_dM + K_U + geo.Fg + w.terms["B"] + h.terms["B"] * overlap + e("B"),
            "dw": K_dM + K_V + tiles + geo.N + s("Gt") + e("G") + 1,  # + N: chunks <= N
            "db": geo.N * geo.Ho * geo.Wo}


def error_scale(backend, x, w, b=None, dy=None, **params):
    """{quantity: (scale, K)} for y (and dx, dw, db when dy is given): the algorithm run in
    float64 on |x|, |w|, |b|, |dy| with |A|, |B|, |G|, and each chain's length K."""
    K = reduction_lengths(backend, conv2d_geometry(x, w, b, **params))

    def absolute(a):
        return None if a is None else np.abs(np.asarray(a, dtype=np.float64))
    abs_backend = Winograd(backend.m, absolute=True)
    y_scale, cache = abs_backend.conv2d_forward(absolute(x), absolute(w), absolute(b), **params)
    scales = {"y": (y_scale, K["y"])}
    if dy is not None:
        dx, dw, db = abs_backend.conv2d_backward(absolute(dy), cache)
        scales.update(dx=(dx, K["dx"]), dw=(dw, K["dw"]))
        if b is not None:
            scales["db"] = (db, K["db"])
    return scales


def error_bound(scale, K, dtype, K_reference=0):
    """Elementwise bound on |computed - float64 reference|: gamma_K(dtype) scale for our
    rounding, gamma_{K_reference}(float64) scale for the reference's (the direct sum|terms| is
    at most our scale: each direct term's coefficient 1 is a sum of products whose absolute
    values the scale adds), the scale inflated for its own float64 rounding, K tiny for
    underflow."""
    def gamma(k, u):
        return k * u / (1 - k * u)
    u, u64 = np.finfo(dtype).eps / 2, np.finfo(np.float64).eps / 2
    return ((gamma(K, u) + gamma(K_reference, u64)) * (1 + 2 * gamma(K, u64)) * scale
            + K * float(np.finfo(dtype).tiny))
