"""Shape rules, argument validation and the floating-point policy, shared by every backend.

Every backend starts its forward pass with `conv2d_geometry` or `pool2d_geometry` and its
backward pass with `check_grad`, so all backends agree on what is valid input, on the output
size and on the error a user sees; `quiet_nonfinite` keeps NumPy from warning about the
NaN and inf that the contract lets propagate. Nothing here computes a convolution.

Conventions (PyTorch's `torch.nn.functional.conv2d` / `max_pool2d` / `avg_pool2d`):

- arrays are NCHW: x (N, C, H, W); conv weight (F, C // groups, kh, kw); bias (F,).
- the output size along one axis is ``floor((H + pad_total - dilation*(k-1) - 1) / stride) + 1``.
- conv padding is an int, an (h, w) pair, ``'valid'`` (no padding) or ``'same'`` (stride 1
  only; total padding ``dilation*(k-1)``, the odd extra row/column at the bottom/right).
- pool stride ``None`` means stride = kernel size; pool padding is at most half the kernel.
- every size parameter is at most ``MAX_PARAMETER`` = 2**31 - 1, so the index arithmetic of
  compiled loops (i*stride + p*dilation) fits in 64 bits on every backend alike (PyTorch
  refuses values beyond int64 too).
- arrays are plain ndarrays: a masked array is refused, because a mask is not part of the
  maths (some NumPy functions would honour it, others ignore it).
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_PARAMETER = 2**31 - 1


def pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    """Normalise an int or an (h, w) pair of ints, each at least `minimum`."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        items = tuple(value)
    else:
        items = (value, value)
    for item in items:
        # bool is an Integral, but stride=True is a bug, not a request for stride 1.
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        if item < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
        if item > MAX_PARAMETER:
            raise ValueError(f"{name} must be <= {MAX_PARAMETER}, got {value!r}")
    return int(items[0]), int(items[1])


def _plain_array(a, name: str, what: str = "a numpy.ndarray") -> None:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be {what}, got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(f"{name} must be a plain numpy.ndarray, not a masked array "
                        f"(fill the masked entries first, e.g. {name}.filled(0))")


def check_array(a, name: str, ndim: int, layout: str) -> np.ndarray:
    """A float32/float64 ndarray of rank `ndim` with no empty axis, or a clear error."""
    _plain_array(a, name)
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {a.shape}")
    if 0 in a.shape:
        raise ValueError(f"{name} must not have an empty axis, got shape {a.shape}")
    return a


def _same_dtype(a: np.ndarray, name: str, x: np.ndarray) -> None:
    if a.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but x has dtype {x.dtype}; they must match")


def output_size(size: int, pad_total: int, kernel: int, stride: int, dilation: int,
                what: str) -> int:
    """PyTorch's output length along one axis; an empty output is an error, not a 0."""
    span = dilation * (kernel - 1) + 1
    if size + pad_total < span:
        raise ValueError(
            f"{what}: kernel of effective size {span} is larger than the padded input "
            f"({size} + {pad_total} padding = {size + pad_total})")
    return (size + pad_total - span) // stride + 1


class _Padded:
    """Sizes of the padded input, shared by conv and pool geometries.

    pad is (top, bottom, left, right): conv 'same' can pad one side more than the other.
    """

    @property
    def Hp(self) -> int:
        return self.H + self.pad[0] + self.pad[1]

    @property
    def Wp(self) -> int:
        return self.W + self.pad[2] + self.pad[3]

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """The gradient w.r.t. x from one w.r.t. the padded input: drop the padding."""
        top, left = self.pad[0], self.pad[2]
        return np.ascontiguousarray(xp[:, :, top:top + self.H, left:left + self.W])


@dataclass(frozen=True)
class ConvGeometry(_Padded):
    """Every size a conv backend needs, validated once."""

    N: int
    C: int
    H: int
    W: int
    F: int
    kh: int
    kw: int
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    dilation: tuple[int, int]
    groups: int
    Ho: int
    Wo: int
    dtype: np.dtype
    has_bias: bool

    @property
    def Cg(self) -> int:
        """Input channels per group."""
        return self.C // self.groups

    @property
    def Fg(self) -> int:
        """Output channels (filters) per group."""
        return self.F // self.groups

    def group(self, g: int) -> tuple[slice, slice]:
        """The input channels and the filters of group g."""
        return slice(g * self.Cg, (g + 1) * self.Cg), slice(g * self.Fg, (g + 1) * self.Fg)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.F, self.Cg, self.kh, self.kw)

    @property
    def y_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.F, self.Ho, self.Wo)

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of the forward pass (bias excluded); backward-data and
        backward-weights each cost the same."""
        return 2 * self.N * self.F * self.Cg * self.kh * self.kw * self.Ho * self.Wo


def _conv_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int],
                  stride: tuple[int, int]) -> tuple[int, int, int, int]:
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]  # odd extra goes bottom/right
            return tuple(pads)
        raise ValueError(f"padding must be an int, an (h, w) pair, 'valid' or 'same', "
                         f"got {padding!r}")
    ph, pw = pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def conv2d_geometry(x, w, b=None, *, stride=1, padding=0, dilation=1,
                    groups=1) -> ConvGeometry:
    """Validate conv2d arguments and return their geometry."""
    check_array(x, "x", 4, "(N, C, H, W)")
    check_array(w, "w", 4, "(F, C // groups, kh, kw)")
    _same_dtype(w, "w", x)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    groups = int(groups)
    N, C, H, W = x.shape
    F, Cw, kh, kw = w.shape
    if C % groups:
        raise ValueError(f"groups={groups} must divide the input channels C={C}")
    if F % groups:
        raise ValueError(f"groups={groups} must divide the output channels F={F} (w.shape[0])")
    if Cw * groups != C:
        raise ValueError(f"channel mismatch: x has C={C} channels, but w.shape[1]={Cw} with "
                         f"groups={groups} expects C={Cw * groups}")
    if b is not None:
        _plain_array(b, "b", "a numpy.ndarray or None")
        if b.dtype not in FLOAT_DTYPES:
            raise TypeError(f"b must have dtype float32 or float64, got {b.dtype}")
        _same_dtype(b, "b", x)
        if b.shape != (F,):
            raise ValueError(f"b must have shape (F,) = ({F},), got {b.shape}")
    stride = pair(stride, "stride", minimum=1)
    dilation = pair(dilation, "dilation", minimum=1)
    pad = _conv_padding(padding, (kh, kw), dilation, stride)
    Ho = output_size(H, pad[0] + pad[1], kh, stride[0], dilation[0], "conv2d height")
    Wo = output_size(W, pad[2] + pad[3], kw, stride[1], dilation[1], "conv2d width")
    return ConvGeometry(N, C, H, W, F, kh, kw, stride, pad, dilation, groups, Ho, Wo,
                        x.dtype, b is not None)


@dataclass(frozen=True)
class PoolGeometry(_Padded):
    """Every size a pooling backend needs, validated once (padding is symmetric)."""

    N: int
    C: int
    H: int
    W: int
    kh: int
    kw: int
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    Ho: int
    Wo: int
    dtype: np.dtype

    @property
    def y_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.Ho, self.Wo)

    def first_real_tap(self) -> np.ndarray:
        """(Ho, Wo): row-major index of the first non-padding element of each window.

        Max pooling pads with -inf, but padding must never win (PyTorch scans only real
        elements): where a window's maximum is -inf, its gradient goes here.
        """
        p = np.maximum(self.pad[0] - np.arange(self.Ho) * self.stride[0], 0)
        q = np.maximum(self.pad[2] - np.arange(self.Wo) * self.stride[1], 0)
        return p[:, None] * self.kw + q


def pool2d_geometry(x, kernel_size, *, stride=None, padding=0) -> PoolGeometry:
    """Validate max/avg pool arguments and return their geometry."""
    check_array(x, "x", 4, "(N, C, H, W)")
    kh, kw = pair(kernel_size, "kernel_size", minimum=1)
    stride = (kh, kw) if stride is None else pair(stride, "stride", minimum=1)
    pad = pair(padding, "padding", minimum=0)
    if pad[0] > kh // 2 or pad[1] > kw // 2:
        raise ValueError(f"padding={padding!r} must be at most half of kernel_size="
                         f"{(kh, kw)} (as in PyTorch)")
    N, C, H, W = x.shape
    Ho = output_size(H, 2 * pad[0], kh, stride[0], 1, "pool height")
    Wo = output_size(W, 2 * pad[1], kw, stride[1], 1, "pool width")
    return PoolGeometry(N, C, H, W, kh, kw, stride, (pad[0], pad[0], pad[1], pad[1]), Ho, Wo,
                        x.dtype)


def check_grad(dy, geometry, name: str = "dy") -> np.ndarray:
    """The upstream gradient must match the forward output's shape and dtype."""
    _plain_array(dy, name)
    if dy.shape != geometry.y_shape:
        raise ValueError(f"{name} must have the forward output's shape {geometry.y_shape}, "
                         f"got {dy.shape}")
    if dy.dtype != geometry.dtype:
        raise TypeError(f"{name} must have the forward output's dtype {geometry.dtype}, "
                        f"got {dy.dtype}")
    return dy


def pad_nchw(x: np.ndarray, pad, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes by pad = (top, bottom, left, right) with `value`.

    Returns x itself (no copy) when there is nothing to pad.
    """
    top, bottom, left, right = pad
    if not any(pad):
        return x
    out = np.full((x.shape[0], x.shape[1], x.shape[2] + top + bottom,
                   x.shape[3] + left + right), value, dtype=x.dtype)
    out[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
    return out


def quiet_nonfinite(fn):
    """Run fn without NumPy's warnings about invalid or overflowing arithmetic: NaN and inf
    propagate as the naive definition says (documented behaviour, not an accident)."""
    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with np.errstate(invalid="ignore", over="ignore"):  # a fresh one: errstate is not
            return fn(*args, **kwargs)                       # re-entrant, calls nest (auto)
    return quiet
