"""The rounding bound every numerical check of the conformance suite uses, and the error unit
the reports share.

Tolerance model
---------------
Every quantity the backends compute is a sum of K rounded terms: a conv output is a dot product
of length K = Cg*kh*kw (+1 for the bias), an input gradient collects at most K = Fg*kh*kw terms
(for fixed filter f and tap (p, q) an input element lies in at most one window), dw and db sum
K = N*Ho*Wo terms. Whatever the summation order (loops, pairwise, BLAS blocking, FMA), the
textbook bound (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5) is

    |fl(sum) - sum| <= gamma_K * sum|terms|,   gamma_K = K*u / (1 - K*u),   u = eps / 2.

`sum|terms|` (the "scale") is the same quantity computed on absolute values: the naive conv of
|x| with |w| (+|b|), or the naive backward of |dy| through a forward of |x|, |w|. The reference
is the naive backend in float64 on the same inputs (float32 inputs are cast exactly to float64),
whose own error is bounded the same way with float64's eps. So

    |got - ref| <= (gamma_K(dtype) + gamma_K(float64)) * scale <= C_BOUND * K * eps(dtype) * scale

with C_BOUND = 2 = 4u/eps: a factor 2 over gamma_K ~ K*u covers the reference's own error, the
1/(1 - K*u) factor and the final rounding of a higher-precision accumulator to the output
dtype (all far below K*u for the K < 10^4 used here). `K * tiny` covers products that
underflow (irrelevant for O(1) data, but keeps the bound honest at 0). The bound is derived
from the dtype and the reduction length only, never from an observed error: a wrong tap, a
missing term or a swapped index changes a result by O(|term|), many orders above it (about
1e-5 relative in float32 and 1e-13 in float64 for these sizes).

This is the bound of any backend that sums products directly, the default error model of a
backend (ERROR_MODEL = "direct"); the transform algorithms declare theirs (`compare`).

Error units: max |got - ref| / (eps(dtype) * sum|terms|), the unit the report's accuracy
columns and `python -m kernels verify` print: 1.0 is one eps of the plain sum's scale, and a
direct sum of K terms stays within C_BOUND * K of them.
"""

from __future__ import annotations

import numpy as np

C_BOUND = 2.0
DTYPES = (np.float32, np.float64)
DTYPE_IDS = ("f32", "f64")


def as_pair(value) -> tuple[int, int]:
    """(h, w) from an int or a pair."""
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def error_bound(scale: np.ndarray, K: int, dtype) -> np.ndarray:
    """Elementwise bound C_BOUND * K * eps(dtype) * scale + K * tiny (see module docstring)."""
    finfo = np.finfo(np.dtype(dtype))
    return C_BOUND * K * float(finfo.eps) * np.asarray(scale, dtype=np.float64) \
        + K * float(finfo.tiny)


def error_units(got, want, scale, dtype) -> float:
    """max |got - want| / (eps(dtype) * scale) over the elements, in float64 (an error where
    the scale is 0 is infinitely many units; a NaN in got makes the result NaN)."""
    eps = np.finfo(np.dtype(dtype)).eps
    err = np.abs(np.asarray(got, dtype=np.float64) - want)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.where(scale > 0, err / (eps * scale), np.where(err > 0, np.inf, 0.0))
    return float(np.max(units)) if units.size else 0.0


def assert_within_rounding(got, ref, scale, K: int, dtype, what: str) -> None:
    """Assert got has ref's shape, the given dtype, and |got - ref| <= error_bound elementwise.

    ref and scale are float64. A NaN in got (where ref is finite) fails.
    """
    dtype = np.dtype(dtype)
    assert isinstance(got, np.ndarray), f"{what}: expected a numpy.ndarray, got {type(got)}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    bound = error_bound(scale, K, dtype)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= bound)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        ratio = np.where(bad, np.nan_to_num(err / bound, nan=np.inf), 0.0)
        worst = np.unravel_index(int(np.argmax(ratio)), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} elements outside the rounding bound "
            f"(K={K}, dtype={dtype}). First at {idx}: got {got[idx]!r}, ref {ref[idx]!r}, "
            f"|err| {err[idx]:.3g} > bound {bound[idx]:.3g}. Worst at "
            f"{tuple(int(i) for i in worst)}: err/bound = {err[worst] / bound[worst]:.3g}")


def conv_reduction_lengths(x, w, b, y_shape, groups=1) -> dict[str, int]:
    """K for each conv quantity, from the shapes alone (see module docstring)."""
    N = x.shape[0]
    F, Cg, kh, kw = w.shape
    Fg = F // groups
    Ho, Wo = y_shape[2], y_shape[3]
    return {"y": Cg * kh * kw + (b is not None), "dx": Fg * kh * kw,
            "dw": N * Ho * Wo, "db": N * Ho * Wo}
