"""The fft backend's weight side: the kernel's spectrum Wr and the taps of dw, each kh*kw
points of the P x Q grid, computed as DFT-matrix products (two small GEMMs) instead of FFTs of
F*Cg mostly-zero planes (4-9x faster, measured). The maths is in kernels/backends/fft.py."""

from __future__ import annotations

import numpy as np


def _spans(geo):
    """(KH, KW) dilated kernel extents and (Ho1, Wo1) the stride-1 output size."""
    KH, KW = geo.dilation[0] * (geo.kh - 1) + 1, geo.dilation[1] * (geo.kw - 1) + 1
    return KH, KW, geo.Hp - KH + 1, geo.Wp - KW + 1


def _dft(length, freqs, positions, sign, dtype):
    """(freqs, len(positions)) matrix exp(sign * 2 pi i k m / length), k < freqs: the DFT
    restricted to a few positions. k*m is reduced mod length in integers, so every entry is
    cos/sin of an angle in [0, 2 pi) computed in double, then rounded once to `dtype`."""
    turns = np.outer(np.arange(freqs), positions) % length / length
    return np.exp(sign * 2j * np.pi * turns).astype(dtype)


def _kernel_spectrum(w, geo, P, Q):
    """Wr (P*Qh, G, Cg, Fg): spectrum of the reversed, dilated kernel wr[KH-1-p*dh] = w[p].

    The kernel is kh*kw nonzeros of a P x Q grid: two small DFT-matrix products (along Q, then
    P) cost ~8*P*Qh*kh per plane as GEMMs, where an FFT would transform F*Cg grids of zeros."""
    KH, KW, _, _ = _spans(geo)
    complex_dtype = np.result_type(geo.dtype, np.complex64)
    rows = KH - 1 - geo.dilation[0] * np.arange(geo.kh)
    cols = KW - 1 - geo.dilation[1] * np.arange(geo.kw)
    taps = w.reshape(geo.groups, geo.Fg, geo.Cg, geo.kh, geo.kw).transpose(3, 4, 0, 2, 1)
    taps = taps.reshape(geo.kh, geo.kw, -1).astype(complex_dtype)  # (kh, kw, G*Cg*Fg)
    half = np.matmul(_dft(Q, Q // 2 + 1, cols, -1, complex_dtype), taps)  # (kh, Qh, M)
    spec = _dft(P, P, rows, -1, complex_dtype) @ half.reshape(geo.kh, -1)  # (P, Qh*M)
    return spec.reshape(-1, geo.groups, geo.Cg, geo.Fg)


def _weight_taps(dw_spec, geo, P, Q):
    """dw (F, Cg, kh, kw) from its spectrum (P*Qh, G, Fg, Cg): the inverse DFT evaluated at
    the kh*kw taps only, dwd[p] at row Ho1-1+p*dh (a full irfft2 of F*Cg planes would compute
    P*Q points to keep kh*kw). c2r along Q: columns 0 and Q/2 count once, the others twice
    (their mirror images), and only the real part is kept."""
    _, _, Ho1, Wo1 = _spans(geo)
    half = Q // 2 + 1
    rows = Ho1 - 1 + geo.dilation[0] * np.arange(geo.kh)
    cols = Wo1 - 1 + geo.dilation[1] * np.arange(geo.kw)
    counted = np.where((np.arange(half) == 0) | (2 * np.arange(half) == Q), 1.0, 2.0) / (P * Q)
    along_p = _dft(P, P, rows, +1, dw_spec.dtype).T @ dw_spec.reshape(P, -1)  # (kh, Qh*M)
    along_q = (_dft(Q, half, cols, +1, np.complex128) * counted[:, None]).T.astype(dw_spec.dtype)
    taps = np.matmul(along_q, along_p.reshape(geo.kh, half, -1)).real  # (kh, kw, G*Fg*Cg)
    taps = taps.reshape(geo.kh, geo.kw, geo.F, geo.Cg).transpose(2, 3, 0, 1)
    return np.ascontiguousarray(taps, dtype=geo.dtype)
