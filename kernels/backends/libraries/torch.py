"""PyTorch's CPU convolution and pooling in our contract: each pass as PyTorch computes it.

What PyTorch computes natively (torch 2.x, CPU, NCHW tensors): float32 convolutions go to
oneDNN (MKL-DNN; it reorders NCHW into its own channel-blocked layout inside the call and
picks a direct or GEMM-based kernel per shape); float64, which oneDNN does not compute, goes
to ATen's own slow_conv2d (im2col + a BLAS GEMM per image) or slow_conv_dilated2d. The
backward passes are `aten::convolution_backward` with an output mask: each gradient that is
masked out is not computed (the same kernel autograd calls).

What the wrapper converts, inside the timed call: `torch.from_numpy` views the arrays (no
copy; an array with a negative stride or one that is read-only is copied first, because
torch can view neither); outputs are `.numpy()` views of torch's fresh results. Padding
that is not the same on both sides ('same' with an even kernel: the extra row/column goes
bottom/right, as in kernels.shapes) is done with an explicit zero-padded copy of x, and dx
is cropped from the gradient of that copy.

Threads: the count a program pinned with kernels.support.runtime.pin_threads is applied to
torch's intra-op pool on every call (cheap when it already holds). OpenMP worker threads
spin for a while after each parallel region (OMP_WAIT_POLICY, read at torch's import), so
measure torch alternated in blocks (kernels.bench.measuring.instruments.measure_alternated).
NaN and inf propagate as in the definition (no warnings: torch does not emit NumPy's).

Pooling is torch's own too (max_pool2d with its indices, avg_pool2d with the padding counted;
the backward passes are the kernels autograd calls, max_pool2d_with_indices_backward and
avg_pool2d_backward), so a report's PyTorch row of a pool case is this backend, timed like
every other. Where a window holds several NaNs, torch routes the gradient to the last of
them and our backends to the first: the outputs are NaN either way.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from ...shapes import check_grad, conv2d_geometry, pool2d_geometry
from ...support import runtime

name = "torch"
# The kernels autograd calls for the backward passes; module names, so tests can spy on them.
convolution_backward = torch.ops.aten.convolution_backward
max_pool2d_backward_kernel = torch.ops.aten.max_pool2d_with_indices_backward
avg_pool2d_backward_kernel = torch.ops.aten.avg_pool2d_backward


def versions() -> dict:
    """torch and the oneDNN it was built with (float32 convolutions run there)."""
    found = {"torch": torch.__version__}
    match = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    if match:
        found["onednn"] = match.group(1)
    found["threads"] = torch.get_num_threads()
    return found


def unsupported(geo) -> str | None:
    """None: torch computes every geometry kernels.shapes accepts, in float32 and float64."""
    return None


def _pin_threads() -> None:
    wanted = runtime.pinned_threads()
    if wanted is not None and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A torch view of `a`; a copy only where torch cannot view it."""
    if not a.flags.writeable or any(s < 0 for s in a.strides):
        a = np.array(a)  # torch cannot view negative strides, and warns on read-only memory
    return torch.from_numpy(a)


def _symmetric(geo) -> bool:
    top, bottom, left, right = geo.pad
    return top == bottom and left == right


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """y = torch.nn.functional.conv2d(x, w, b) on views of the arrays."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    _pin_threads()
    xt, wt = _tensor(x), _tensor(w)
    bt = None if b is None else _tensor(b)
    if _symmetric(geo):
        pad = [geo.pad[0], geo.pad[2]]
    else:
        top, bottom, left, right = geo.pad
        xt = torch.nn.functional.pad(xt, (left, right, top, bottom))
        pad = [0, 0]
    with torch.no_grad():
        y = torch.nn.functional.conv2d(xt, wt, bt, stride=geo.stride, padding=pad,
                                       dilation=geo.dilation, groups=geo.groups)
    return y.numpy(), (xt, wt, pad, geo)


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """aten::convolution_backward with the mask [dx, dw, db]: only the asked gradients."""
    xt, wt, pad, geo = cache
    check_grad(dy, geo)
    if not (compute_dx or compute_dw):
        return None, None, None
    _pin_threads()
    mask = [compute_dx, compute_dw, compute_dw and geo.has_bias]
    with torch.no_grad():
        dx, dw, db = convolution_backward(
            _tensor(dy), xt, wt, [geo.F] if geo.has_bias else None, list(geo.stride), pad,
            list(geo.dilation), False, [0, 0], geo.groups, mask)
    if dx is not None:
        dx = dx.numpy()
        if not _symmetric(geo):
            dx = geo.crop(dx)
    return (dx, None if dw is None else dw.numpy(),
            None if db is None else db.numpy())



def _pool_arguments(geo) -> tuple[list, list, list]:
    """kernel_size, stride and padding as torch takes them (our pool padding is symmetric)."""
    return [geo.kh, geo.kw], list(geo.stride), [geo.pad[0], geo.pad[2]]


def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """torch.nn.functional.max_pool2d, keeping its indices for the backward pass."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    _pin_threads()
    xt = _tensor(x)
    with torch.no_grad():
        y, indices = torch.nn.functional.max_pool2d(xt, *_pool_arguments(geo),
                                                    return_indices=True)
    return y.numpy(), (xt, indices, geo)


def max_pool2d_backward(dy, cache):
    """Each dy routed to the element its window's index names."""
    xt, indices, geo = cache
    check_grad(dy, geo)
    _pin_threads()
    with torch.no_grad():
        dx = max_pool2d_backward_kernel(_tensor(dy), xt, *_pool_arguments(geo), [1, 1], False,
                                        indices)
    return dx.numpy()


def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """torch.nn.functional.avg_pool2d, zero padding counted (count_include_pad)."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    _pin_threads()
    xt = _tensor(x)
    with torch.no_grad():
        y = torch.nn.functional.avg_pool2d(xt, *_pool_arguments(geo), count_include_pad=True)
    return y.numpy(), (xt, geo)


def avg_pool2d_backward(dy, cache):
    """Each dy / (kh * kw) spread over its window."""
    xt, geo = cache
    check_grad(dy, geo)
    _pin_threads()
    with torch.no_grad():
        dx = avg_pool2d_backward_kernel(_tensor(dy), xt, *_pool_arguments(geo), False, True,
                                        None)
    return dx.numpy()
