"""Winograd's transform matrices F(m, r), built by Cook-Toom interpolation in exact rational
arithmetic (nothing typed in).

One axis. With n = m + r - 1 pick n - 1 distinct points a_i and the point at infinity. The
linear convolution s = g * h (|g| = r, |h| = m, |s| = n) is evaluated at the points (g(a_i)
h(a_i), and g_{r-1} h_{m-1} "at infinity") and rebuilt by the Chinese remainder theorem modulo
M(x) = prod_i (x - a_i):  s(x) = sum_i g(a_i) h(a_i) L_i(x) / N_i + g_{r-1} h_{m-1} M(x),
L_i = prod_{j != i} (x - a_j), N_i = L_i(a_i). So s = B [(G g) * (A h)]: A (n x m), G (n x r)
Vandermonde rows, B (n x n) holding the coefficients of the L_i and of M. The 1/N_i go into
G, the filter transform (computed once per call, in float64), so that A and B, which touch
the data, keep small dyadic entries that binary floating point holds exactly. Correlation
y_a = sum_p g_p d_{a+p} (m outputs from a tile d of n inputs) is the transpose of that
bilinear map in h (d.s = h.y), hence y = A^T [(G g) * (B^T d)]: n multiplications instead
of m r.

Points (`POINTS`): 0, then the small ones of Lavin & Gray / wincnn, +-1, +-1/2, +-2, whose
powers and products 1/N_i stay small, so |A|, |B|, |G| - and with them the rounding error -
stay small. For each n the subset of +-1, +-1/2, +-2 with the lowest float32 error (mean rms
of y, dx, dw on random data) was kept: F(2,3) gets Lavin & Gray's 0, +-1; F(4,3) gets
0, +-1, -1/2, 2 (the kind of set Barabasz et al. 2020 recommend): 23-34 % lower rms and ~2x
lower max error than Lavin's 0, +-1, +-2.

Tile limit (`MAX_TILE`): n <= 6 per axis in float32 - the worst float32 rms error of y, dx, dw
is at most 7x im2col's up to n = 6 and 14-21x for n = 7, 8, against the project's 10x -
and n <= 8 in float64.
"""

from __future__ import annotations

import functools
import math
import types
from fractions import Fraction

import numpy as np

#: Largest tile n = m + k - 1 per axis, by dtype.
MAX_TILE = {np.dtype(np.float32): 6, np.dtype(np.float64): 8}
#: Finite interpolation points per tile size n; infinity is always the n-th.
POINTS = {3: (0, 1), 4: (0, 1, -1), 5: (0, 1, Fraction(-1, 2), -2),
          6: (0, 1, -1, Fraction(-1, 2), 2), 7: (0, 1, -1, Fraction(1, 2), Fraction(-1, 2), 2),
          8: (0, 1, -1, Fraction(1, 2), Fraction(-1, 2), 2, -2)}


def cook_toom(m, r, points):
    """Exact A (n x m), G (n x r), B (n x n) of F(m, r) from n - 1 finite points (+ infinity)."""
    n, a = m + r - 1, [Fraction(p) for p in points]
    assert len(set(a)) == len(a) == n - 1, "need n - 1 distinct finite points"
    # Vandermonde rows 1, a, a^2, ...; at infinity the leading coefficient alone.
    A = [[ai ** j for j in range(m)] for ai in a] + [[0] * (m - 1) + [1]]
    G = [[ai ** j for j in range(r)] for ai in a] + [[0] * (r - 1) + [1]]
    factors = [np.array([-ai, 1], dtype=object) for ai in a]  # x - a_i, lowest power first
    B_columns = []
    for i in range(n - 1):
        L_i = functools.reduce(np.convolve, factors[:i] + factors[i + 1:])  # polynomial product
        N_i = math.prod(a[i] - aj for j, aj in enumerate(a) if j != i)
        G[i] = [g / N_i for g in G[i]]
        B_columns.append(list(L_i) + [0])
    B_columns.append(list(functools.reduce(np.convolve, factors)))  # M(x)
    return A, G, [[column[k] for column in B_columns] for k in range(n)]


@functools.cache
def transform(m, r):
    """F(m, r) on one axis: float64 A, G, B; which have entries float32 must round; the
    longest sum each of A, A^T, G, G^T, B, B^T makes (most nonzeros in a row)."""
    exact = cook_toom(m, r, POINTS[m + r - 1])
    A, G, B = (np.array(X, dtype=np.float64) for X in exact)
    rounded = {name: any(Fraction(float(np.float32(v))) != v for row in X for v in row)
               for name, X in zip("AGB", exact)}
    terms = {name: int(np.count_nonzero(X, axis=1).max())  # the longest sum X's rows make
             for name, X in dict(A=A, At=A.T, G=G, Gt=G.T, B=B, Bt=B.T).items()}
    return types.SimpleNamespace(m=m, r=r, n=m + r - 1, A=A, G=G, B=B, rounded=rounded,
                                 terms=terms)
