"""Hypothesis strategies for the property tests: random valid conv and pool configurations.

Constructive: they draw the kernel, dilation, stride and padding first and then an input size
that makes the output non-empty, so no example is wasted on an error case (errors have their
own tests). The only filter is a work budget on the output size that keeps the pure-Python
naive reference fast. Array values come from a drawn seed (so a failing example prints
compactly): standard normal, or small integers (exact arithmetic; frequent ties in max
pooling). The strategies draw every configuration of the contract; a test asks the backend
whether it computes the drawn one (`checks.check_conv` records the refusals).
"""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from kernels.conformance.bounds import DTYPES, as_pair

MAX_HW = 10
WORK_BUDGET = 400  # output elements per example (naive: ~10 us each, forward + backward)


def int_or_pair(lo, hi):
    """An int, or an (h, w) tuple of ints, in [lo, hi]."""
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


def _out(size, pad_total, k, s, d):
    return (size + pad_total - d * (k - 1) - 1) // s + 1


@st.composite
def conv_configs(draw, unit_stride=False):
    """(shapes, params, seed) for a valid conv2d with a non-empty output (the arrays are built
    from the seed in the test, so a failing example prints compactly). unit_stride: stride
    and dilation 1 only, the configurations every transform algorithm computes."""
    dtype = draw(st.sampled_from(DTYPES))
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, 2))  # Cg = 1 is depthwise
    F = groups * draw(st.integers(1, 2))  # F = C or 2C when depthwise
    N = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = 1 if unit_stride else draw(int_or_pair(1, 3))
    dh, dw = as_pair(dilation)
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    if padding == "same":
        stride = draw(st.sampled_from([1, (1, 1)]))
        pad_h, pad_w = dh * (kh - 1), dw * (kw - 1)
    else:
        stride = 1 if unit_stride else draw(int_or_pair(1, 3))
        ph, pw = (0, 0) if padding == "valid" else as_pair(padding)
        pad_h, pad_w = 2 * ph, 2 * pw
    # Smallest input that still fits one (dilated) window; dilation*(k-1)+1 <= 10 = MAX_HW.
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - pad_h), MAX_HW))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - pad_w), MAX_HW))
    sh, sw = as_pair(stride)
    Ho, Wo = _out(H, pad_h, kh, sh, dh), _out(W, pad_w, kw, sw, dw)
    assert Ho >= 1 and Wo >= 1  # by construction
    assume(N * F * Ho * Wo <= WORK_BUDGET)
    shapes = dict(N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw, groups=groups,
                  bias=draw(st.booleans()), dtype=dtype, ints=draw(st.booleans()))
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return shapes, params, draw(st.integers(0, 2**32 - 1))


@st.composite
def pool_configs(draw):
    """(x_spec, kernel_size, params, seed) for a valid pool with a non-empty output."""
    dtype = draw(st.sampled_from(DTYPES))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel_size = draw(int_or_pair(1, 4))
    kh, kw = as_pair(kernel_size)
    # PyTorch's rule: padding at most half the kernel, per axis.
    padding = draw(st.one_of(st.integers(0, min(kh, kw) // 2),
                             st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2))))
    ph, pw = as_pair(padding)
    stride = draw(st.one_of(st.none(), int_or_pair(1, 3)))
    sh, sw = (kh, kw) if stride is None else as_pair(stride)
    H = draw(st.integers(max(1, kh - 2 * ph), MAX_HW))
    W = draw(st.integers(max(1, kw - 2 * pw), MAX_HW))
    Ho, Wo = _out(H, 2 * ph, kh, sh, 1), _out(W, 2 * pw, kw, sw, 1)
    assert Ho >= 1 and Wo >= 1
    assume(N * C * Ho * Wo <= WORK_BUDGET)
    # stride=None and padding=0 are also exercised as omitted arguments (the defaults).
    params = {} if stride is None and draw(st.booleans()) else dict(stride=stride)
    if padding != 0 or draw(st.booleans()):
        params["padding"] = padding
    x_spec = dict(shape=(N, C, H, W), dtype=dtype, ints=draw(st.booleans()))
    return x_spec, kernel_size, params, draw(st.integers(0, 2**32 - 1))
