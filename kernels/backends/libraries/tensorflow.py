"""TensorFlow's CPU convolution in our contract: tf.raw_ops.Conv2D and its two backprop ops,
in TensorFlow's NHWC layout, the transposes included in the time.

What TensorFlow computes natively (tensorflow-cpu 2.x on x86-64 Linux, where its oneDNN
optimisations are on by default, TF_ENABLE_ONEDNN_OPTS): Conv2D, Conv2DBackpropInput and
Conv2DBackpropFilter are rewritten to oneDNN's convolution primitives (float32; oneDNN
reorders to its channel-blocked layout inside the op); float64, which oneDNN does not
compute, runs TensorFlow's Eigen kernels (im2col-style packing + Eigen GEMM). On the CPU
these ops take NHWC input and HWIO filters only (NCHW is a GPU layout there). Grouped
convolution is a filter of depth C // groups (checked: it runs on this CPU build in float32
and float64, forward and both backprops). Padding is passed as 'SAME' or 'VALID' where it
is one of those, else EXPLICIT; stride and dilation are native, also together: the raw ops
compute dilation with stride > 1 (tf.nn.convolution's documentation asks for stride 1
when dilation > 1; on this CPU build Conv2D and both backprops compute the pair, checked
against the reference by the conformance grid's k2-d2-s2-p1 in float32).

Dilation > 1 and groups > 1: the backprop ops compute them only on the oneDNN path
(float32, padding SAME or VALID); Eigen's kernels refuse them ("Current CPU implementations
do not yet support dilation rates larger than 1", "Gradients for grouped convolutions are
not supported on CPU"):
    x = np.ones((1, 8, 8, 4)); w = np.ones((3, 3, 4, 4)); dy = np.ones((1, 4, 4, 4))
    tf.raw_ops.Conv2DBackpropInput(input_sizes=[1, 8, 8, 4], filter=w, out_backprop=dy,
        strides=[1, 1, 1, 1], padding="VALID", dilations=[1, 2, 2, 1])   # float64: refused
    (and float32 with padding="EXPLICIT", explicit_paddings=[0, 0, 1, 1, 1, 1, 0, 0]; the
    same for a filter of depth C // 2 without dilation)
So float64 with dilation or groups is unsupported(), and in float32 padding that is
neither SAME nor VALID is applied to x with tf.pad (a copy, timed) before a VALID conv
when there is dilation or groups, dx cropped after.

What the wrapper converts, inside the timed call: x NCHW -> NHWC and w OIHW -> HWIO
(tf.transpose, a copy each) in forward, dy NCHW -> NHWC in backward, and every result back
(NHWC -> NCHW, HWIO -> OIHW, then .numpy()). The transposed x and w stay in the cache, so
backward does not transpose them again. db = the sum of dy over N, H, W (tf.reduce_sum).
Ops run eagerly, one by one (no tf.function: nothing to trace, no retracing per shape).

Threads: TensorFlow reads its thread counts once, when its runtime starts. At this
module's import, the count pinned with kernels.support.runtime.pin_threads (else every
usable core) becomes the intra-op pool and the inter-op pool is 1 (one op at a time, as
these calls are issued); `versions()` reports both. TF_CPP_MIN_LOG_LEVEL defaults to 2
here (TensorFlow's info and warning lines hidden, its errors shown; a user's own setting
wins), and the info lines TensorFlow prints at import regardless are filtered out of stderr
during the import (nothing else is).
"""

from __future__ import annotations

import os

import numpy as np

from ...shapes import check_grad, conv2d_geometry
from ...support import runtime
from ...support.sizes import ceil_div

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly():
    """import tensorflow, dropping the info lines its C++ side prints at import whatever
    TF_CPP_MIN_LOG_LEVEL says (absl logs before it is initialised: 'oneDNN custom operations
    are on ...'); any other line it writes to stderr is written back."""
    import tempfile
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not (line.startswith("I0000") or "before absl::InitializeLog()" in line):
                    os.write(2, line.encode())
    return tensorflow


tf = _import_tensorflow_quietly()

name = "tensorflow"


def _pin_threads() -> str:
    wanted = runtime.pinned_threads() or runtime.usable_cores()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as error:  # the runtime was started before this module's import
        return f"not pinned ({' '.join(str(error).split())[:120]})"
    return "pinned"


_THREADS = _pin_threads()


def versions() -> dict:
    """tensorflow, whether its oneDNN rewrites are on, and its thread pools."""
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86-64 Linux)")
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    return {"tensorflow": tf.__version__, "onednn_opts": onednn,
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "threads": intra if _THREADS == "pinned" else _THREADS}


def unsupported(geo) -> str | None:
    """Why TensorFlow's CPU ops cannot compute `geo`'s three passes, or None."""
    if geo.dtype == np.float64 and geo.dilation != (1, 1):
        return ("TensorFlow's CPU backprop ops compute dilation > 1 in float32 only (float64 "
                "runs Eigen kernels without it)")
    if geo.dtype == np.float64 and geo.groups > 1:
        return ("TensorFlow's CPU backprop ops compute groups > 1 in float32 only (float64 "
                "runs Eigen kernels without it)")
    return None


def _same_padding(geo) -> tuple[int, ...]:
    """The (top, bottom, left, right) padding TensorFlow's padding='SAME' gives `geo`."""
    pads = []
    for size, k, s, d in ((geo.H, geo.kh, geo.stride[0], geo.dilation[0]),
                          (geo.W, geo.kw, geo.stride[1], geo.dilation[1])):
        total = max((ceil_div(size, s) - 1) * s + d * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _params(geo, x_padded: bool) -> dict:
    """The ops' arguments; padding named SAME or VALID where it is one (the oneDNN path
    takes those, also with dilation), else EXPLICIT."""
    params = dict(strides=[1, *geo.stride, 1], dilations=[1, *geo.dilation, 1],
                  data_format="NHWC", padding="VALID")
    if not x_padded and any(geo.pad):
        top, bottom, left, right = geo.pad
        params["padding"] = "SAME" if geo.pad == _same_padding(geo) else "EXPLICIT"
        if params["padding"] == "EXPLICIT":
            params["explicit_paddings"] = [0, 0, top, bottom, left, right, 0, 0]
    return params


def _pads_x(geo) -> bool:
    """Whether x is padded by tf.pad before a VALID conv: padding that is neither SAME nor
    VALID, with dilation or groups, which only the oneDNN path computes, and it takes no
    EXPLICIT padding."""
    return any(geo.pad) and geo.pad != _same_padding(geo) and \
        (geo.dilation != (1, 1) or geo.groups > 1)


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """y = Conv2D(x NHWC, w HWIO) + b, transposed back to NCHW."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    if reason := unsupported(geo):
        raise ValueError(f"tensorflow does not compute this convolution: {reason}")
    x_nhwc = tf.transpose(x, (0, 2, 3, 1))
    pads_x = _pads_x(geo)
    if pads_x:
        top, bottom, left, right = geo.pad
        x_nhwc = tf.pad(x_nhwc, [[0, 0], [top, bottom], [left, right], [0, 0]])
    w_hwio = tf.transpose(w, (2, 3, 1, 0))
    y = tf.raw_ops.Conv2D(input=x_nhwc, filter=w_hwio, **_params(geo, pads_x))
    if b is not None:
        y = tf.nn.bias_add(y, b)
    return tf.transpose(y, (0, 3, 1, 2)).numpy(), (x_nhwc, w_hwio, geo)


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """Conv2DBackpropInput for dx, Conv2DBackpropFilter and a sum for (dw, db): each pass
    runs only when asked for."""
    x_nhwc, w_hwio, geo = cache
    check_grad(dy, geo)
    pads_x = _pads_x(geo)
    if not (compute_dx or compute_dw):
        return None, None, None
    dy_nhwc = tf.transpose(dy, (0, 2, 3, 1))
    dx = dw = db = None
    if compute_dx:
        dx = tf.raw_ops.Conv2DBackpropInput(
            input_sizes=list(x_nhwc.shape), filter=w_hwio, out_backprop=dy_nhwc,
            **_params(geo, pads_x))
        dx = tf.transpose(dx, (0, 3, 1, 2)).numpy()
        if pads_x:
            dx = geo.crop(dx)
    if compute_dw:
        dw = tf.raw_ops.Conv2DBackpropFilter(
            input=x_nhwc, filter_sizes=[geo.kh, geo.kw, geo.Cg, geo.F], out_backprop=dy_nhwc,
            **_params(geo, pads_x))
        dw = tf.transpose(dw, (3, 2, 0, 1)).numpy()
        if geo.has_bias:
            db = tf.reduce_sum(dy_nhwc, axis=(0, 1, 2)).numpy()
    return dx, dw, db


POOLING_FROM = "numba"  # the registry lends it the shared pooling (kernels.backends.pooling)
