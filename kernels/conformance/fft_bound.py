"""The rounding bound the conformance suite holds the FFT backend to (ERROR_MODEL = "fft"):
normwise, per output plane, derived from the dtype, the FFT grid and the inputs' norms (never
calibrated on observed errors).
The derivation is in `error_bound`'s docstring.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backends.fft import fft_grid
from kernels.shapes import conv2d_geometry


def _radices(n: int, real: bool) -> list[int]:
    """pocketfft's factorisation: complex 8s then 4s, real 4s; then one 2; odd factors."""
    radices = []
    for radix in (4,) if real else (8, 4):
        while n % radix == 0:
            radices.append(radix)
            n //= radix
    divisor = 2
    while n > 1:
        while n % divisor == 0:
            radices.append(divisor)
            n //= divisor
        divisor += 1
    return radices


def _gamma(k, u):
    return k * u / (1 - k * u)


def _twiddle_error(u):
    """mu: |computed - exact| of a unit-modulus twiddle (relative, for scaled ones). pocketfft
    and `_dft` compute them in double and round once to the dtype (A3)."""
    return u + 8 * 2.0**-53


def transform_error(P: int, Q: int, dtype) -> tuple[float, float]:
    """(alpha, alpha_inv): relative 2-norm error bounds of rfft2 and irfft2 on P x Q (A1, A2)."""
    u = float(np.finfo(dtype).eps) / 2
    mu = _twiddle_error(u)
    log_growth = 0.0
    for r in _radices(Q, real=True) + _radices(P, real=False):
        log_growth += math.log1p(math.sqrt(r) * (mu + _gamma(2 * r + 2, u) * (math.sqrt(2) + mu)))
    alpha = math.expm1(log_growth)
    return alpha, (1 + alpha) * (1 + u) ** 4 - 1


def matrix_dft_errors(geo, P: int, Q: int) -> tuple[float, float]:
    """(eps_w, eps_taps): componentwise relative bounds of `_kernel_spectrum` (per frequency,
    relative to ||w[f, c]||_1) and of `_weight_taps` (per tap, relative to the l1 norm of the
    Hermitian-extended spectrum / (P Q)): two chained dot products each (A4)."""
    u = float(np.finfo(geo.dtype).eps) / 2
    mu, root2 = _twiddle_error(u), math.sqrt(2)
    along_q = mu + root2 * _gamma(2 * geo.kw, u) * (1 + mu)  # complex x real, kw terms
    along_p = mu + root2 * _gamma(2 * geo.kh, u) * (1 + mu)  # complex x complex, kh terms
    inverse_p = mu + root2 * _gamma(2 * P, u) * (1 + mu)
    inverse_q = mu + _gamma(2 * (Q // 2 + 1), u) * (1 + mu)  # real part only: 2 Qh real terms
    return (1 + along_q) * (1 + along_p) - 1, (1 + inverse_p) * (1 + inverse_q) - 1


def _norms(a, shape):
    """Per-plane 2- and 1-norms (float64) of a 4-D array, reshaped."""
    a = np.asarray(a, dtype=np.float64)
    return (np.sqrt((a * a).sum(axis=(2, 3))).reshape(shape),
            np.abs(a).sum(axis=(2, 3)).reshape(shape))


def error_bound(x, w, dy=None, b=None, *, stride=1, padding=0, dilation=1, groups=1) -> dict:
    """Rigorous normwise bounds for this backend (never calibrated on observed errors).

    Returns float64 arrays: 'y' (N, F), 'dx' (N, C), 'dw' (F, Cg) bound ||computed - exact||_2
    per output plane; 'db' (F,) bounds |computed - exact|. dx, dw, db need dy.
    Model: u the unit roundoff, gamma_k = k u/(1 - k u), s = sqrt(P Q); the unnormalised DFT
    on the grid has ||F a||_2 = s ||a||_2 (Parseval) and ||F a||_inf <= ||a||_1.
    (A1) Higham, ASNA Thm 24.2: if every stage A_k of an FFT (||A_k||_2 = sqrt(radix)) is
      computed with ||fl(A_k z) - A_k z|| <= eta_k ||A_k|| ||z||, then, as the stage norms
      multiply to ||F||_2 = s, the transform's relative error is prod(1 + eta_k) - 1 = alpha:
      true for pocketfft's mixed radix (both axes' stages, factorised as `_radices`). For
      radix 2, eta = mu + gamma_4 (sqrt2 + mu). For radix r > 2 no published constant covers
      pocketfft's codelets: we ASSUME each butterfly output is within (mu + gamma_{2r+2}
      (sqrt2 + mu)) sum_m |z_m| of exact (<= 2r + 2 roundings on any path, coefficients of
      modulus <= 1), i.e. normwise (Cauchy-Schwarz) eta_r = sqrt(r)(mu + gamma_{2r+2}(sqrt2 + mu)),
      used for every r (looser than Higham's at r = 2).
    (A2) r2c/c2r err like the complex transform of the same data restricted to half the
      spectrum (FFTPACK's real passes compute a subset of the same quantities): (A1) holds
      for Hermitian extensions. Inverse: alpha_inv adds the 1/(PQ) scaling, 4 roundings.
    (A3) twiddles, pocketfft's and `_dft`'s, are computed in double: mu = u + 8 u_double.
    (A4) complex GEMM and DFT-matrix products: each real/imaginary part is a sum of 2m real
      products in any order/blocking: |error| <= sqrt2 gamma_2m sum |a||b| (4M, not 3M).
    Forward, plane y[n,f] = sum_{c<=m} a_c (*) b_c, a = xp[n,c], b = wr[f,c], m = Cg (circular on
    the grid; placement, reversal, crop and subsampling are exact copies, and cropping never
    grows a 2-norm). A^ = A + E with ||E||_2 <= alpha s ||a||_2 (FFT); B^ = B + E' with
    |E'_k| <= eps_w ||b||_1 at every frequency (`matrix_dft_errors`). Pointwise:
      ||A^ B^ - A B|| <= ||E|| ||B||_inf + ||A|| ||E'||_inf + ||E|| ||E'||_inf
                      <= s ||a||_2 ||b||_1 ((1 + alpha)(1 + eps_w) - 1),
    the GEMM adds sqrt2 gamma_2m sum_c ||A^_c||_2 ||B^_c||_inf <= sqrt2 gamma_2m (1 + alpha)
    (1 + eps_w) s sum_c ||a||_2 ||b||_1, and the inverse FFT alpha_inv (||y|| + that / s), with
    ||y|| <= sum_c ||a||_2 ||b||_1 (Young). Altogether
      ||y^ - y||_2 <= [(1 + alpha)(1 + eps_w)(1 + sqrt2 gamma_2m)(1 + alpha_inv) - 1] T,
      T = sum_c ||xp[n,c]||_2 ||w[f,c]||_1   (<= sqrt(kh kw) sum_c ||x||_2 ||w||_2),
    plus u (T + bound + sqrt(Ho Wo) |b_f|) for the bias add. dx[n,c]: the same with a = dy[n,f]
    (zero-stuffed), m = Fg. dw[f,c]: a = xp[n,c], b = dyr[n,f] both by FFT, m = N (chunks are
    a reordering of the sum); with Y = min(||a||_2 ||b||_1, ||a||_1 ||b||_2) (Young) and
    D = ||a||_2 ||b||_1 + ||a||_1 ||b||_2 + alpha s ||a||_2 ||b||_2, the spectrum's error is
    <= s e, e = sum_n [alpha (1 + g) D + g Y], g = sqrt2 gamma_2N, and the kh kw taps read by
    `_weight_taps` add sqrt(kh kw) eps_taps (sum_n Y + e) (per tap eps_taps times the spectrum's
    l1 norm / (P Q) <= its 2-norm / s). db: a sum of N Ho Wo terms: gamma_{N Ho Wo} sum |dy|.
    """
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    P, Q = fft_grid(geo)
    alpha, alpha_inv = transform_error(P, Q, geo.dtype)
    eps_w, eps_taps = matrix_dft_errors(geo, P, Q)
    u, s, root2 = float(np.finfo(geo.dtype).eps) / 2, math.sqrt(P * Q), math.sqrt(2)
    G, Cg, Fg, N = geo.groups, geo.Cg, geo.Fg, geo.N

    def growth(m):  # the bracket above, for m summed channels
        return (1 + alpha) * (1 + eps_w) * (1 + root2 * _gamma(2 * m, u)) * (1 + alpha_inv) - 1

    x2, x1 = _norms(x, (N, G, 1, Cg))
    w1 = _norms(w, (1, G, Fg, Cg))[1]  # the kernel enters through its 1-norm only
    y_terms = (x2 * w1).sum(axis=-1).reshape(N, geo.F)
    y_err = growth(Cg) * y_terms
    bias = 0.0 if b is None else math.sqrt(geo.Ho * geo.Wo) * np.abs(np.asarray(b, np.float64))
    out = {"y": y_err + u * (y_terms + y_err + bias)}
    if dy is None:
        return out
    d2, d1 = _norms(dy, (N, G, Fg, 1))
    out["dx"] = growth(Fg) * (d2 * w1).sum(axis=2).reshape(N, geo.C)
    # dw: (G, Fg, Cg, N) products, the batch summed.
    a2, a1 = (v.transpose(1, 2, 3, 0) for v in (x2, x1))  # (G, 1, Cg, N)
    b2, b1 = (v.transpose(1, 2, 3, 0) for v in (d2, d1))  # (G, Fg, 1, N)
    g = root2 * _gamma(2 * N, u)
    young = np.minimum(a2 * b1, a1 * b2)
    spread = a2 * b1 + a1 * b2 + alpha * s * a2 * b2
    spectral = (alpha * (1 + g) * spread + g * young).sum(axis=-1)
    taps = math.sqrt(geo.kh * geo.kw) * eps_taps * (young.sum(axis=-1) + spectral)
    out["dw"] = (spectral + taps).reshape(geo.F, Cg)
    k = N * geo.Ho * geo.Wo
    out["db"] = _gamma(k, u) * np.abs(np.asarray(dy, np.float64)).sum(axis=(0, 2, 3))
    return out
