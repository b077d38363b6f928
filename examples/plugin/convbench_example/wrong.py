"""The example backend with a classic backpropagation bug, for `python -m kernels verify`.

Backward-data uses the kernel flipped (w[f, c, kh-1-p, kw-1-q]): right for a full
convolution written as a correlation, wrong here. Forward and backward-weights are the
example's own, so verify must fail only the backward-data checks, on kernels that are not
point-symmetric. Not registered by the entry point; try it with
    CONVBENCH_BACKENDS=wrong=convbench_example.wrong python -m kernels verify wrong --quick
"""

import convbench_example as _right
from convbench_example import (avg_pool2d_backward, avg_pool2d_forward,  # noqa: F401
                               conv2d_forward, max_pool2d_backward, max_pool2d_forward,
                               unsupported)
from kernels.shapes import check_grad, quiet_nonfinite

name = "wrong"
POOLING_FROM = "numba"


def _flipped_tap(w, p, q, geo):
    return w[:, :, geo.kh - 1 - p, geo.kw - 1 - q]


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    geo, x, w = cache
    check_grad(dy, geo)
    _, dw, db = _right.conv2d_backward(dy, cache, compute_dx=False, compute_dw=compute_dw)
    dx = None
    if compute_dx:
        dx = _right._input_gradient(geo, dy, w, tap=_flipped_tap)
    return dx, dw, db
