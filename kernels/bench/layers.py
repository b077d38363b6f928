"""Single layers: one backend, or PyTorch, on one named case of `kernels.cases`.

Forward and backward are timed apart, each on its own warm cache; workspace is measured in a
separate, untimed forward+backward. The reference backend takes seconds per call, so it gets
one sample, and with `quick` a few images whose time is scaled to the batch (its cost is
exactly linear in the batch).
"""

from __future__ import annotations

import time

import numpy as np

from .. import REFERENCE, get_backend, role
from .instruments import measure, workspace_bytes

REFERENCE_PROBE_BATCH = 4  # --quick: the reference on this many images, scaled to the batch


def _conv_calls(backend, case, x, w, b, dy):
    params = case.params()
    _, cache = backend.conv2d_forward(x, w, b, **params)

    def forward():
        return backend.conv2d_forward(x, w, b, **params)

    def both():
        y2, c2 = forward()
        return (y2, *backend.conv2d_backward(dy, c2))
    return forward, (lambda: backend.conv2d_backward(dy, cache)), both, cache


def _pool_calls(backend, case, x, dy):
    fwd = getattr(backend, f"{case.op}_pool2d_forward")
    bwd = getattr(backend, f"{case.op}_pool2d_backward")
    _, cache = fwd(x, case.k)

    def both():
        y2, c2 = fwd(x, case.k)
        return y2, bwd(dy, c2)
    return (lambda: fwd(x, case.k)), (lambda: bwd(dy, cache)), both, cache


def time_case(case, backend_name, dtype, repeats, quick):
    """Forward/backward timings and workspace of one backend on one case."""
    backend = get_backend(backend_name)
    arrays = case.arrays(dtype)
    scale, note = 1.0, None
    if role(backend_name) == REFERENCE:
        repeats = 1  # seconds per call: one sample says enough, and more would take minutes
        if quick:
            x, *middle, dy = arrays
            arrays = (x[:REFERENCE_PROBE_BATCH], *middle, dy[:REFERENCE_PROBE_BATCH])
            scale = case.N / REFERENCE_PROBE_BATCH
            note = f"extrapolated from batch {REFERENCE_PROBE_BATCH}"
    start = time.perf_counter()  # the first forward: for Numba, compilation or cache load
    forward, backward, both, cache = (_conv_calls if case.kind == "conv" else _pool_calls)(
        backend, case, *arrays)
    first_call = time.perf_counter() - start
    result = dict(forward=measure(forward, repeats), backward=measure(backward, repeats))
    # The first forward and the first backward (measure's warm-up): Numba compiles here.
    result["first_call_seconds"] = first_call + result["backward"]["first_call"]
    for key in ("forward", "backward"):
        result[key] = {k: v * scale if isinstance(v, float) else v
                       for k, v in result[key].items()}
    result["workspace_bytes"] = None if scale != 1.0 else workspace_bytes(both)
    if note:
        result["note"] = note
    winner = getattr(backend, "winner", None)  # a dispatcher says who computed the layer
    if winner is not None:
        result["chose"] = winner(cache)
    return result


def workspace_cap_case(case, backend_name, dtype, repeats):
    """A backend with a workspace cap (`MAX_WORKSPACE_BYTES`, `chunk_count(geo, itemsize)`),
    forward+backward under its cap against no cap at all: slowdown, peak, chunks."""
    backend = get_backend(backend_name)
    x, w, b, dy = case.arrays(dtype)
    cap = backend.MAX_WORKSPACE_BYTES

    def both():
        y, cache = backend.conv2d_forward(x, w, b, **case.params())
        return (y, *backend.conv2d_backward(dy, cache))
    geo = case.geometry(x, w, b)
    chunks = backend.chunk_count(geo, x.itemsize)
    peak = workspace_bytes(both)
    slowdown = None  # one chunk: the cap changes nothing, timing it would time noise
    if chunks > 1:
        capped = measure(both, repeats)["min"]  # min: a ratio of two medians is noisier
        try:
            backend.MAX_WORKSPACE_BYTES = 2**62
            slowdown = capped / measure(both, repeats)["min"]
        finally:
            backend.MAX_WORKSPACE_BYTES = cap
    # The padded input and its gradient are O(input) for every algorithm; the cap bounds
    # what the backend adds on top (e.g. im2col's columns, their gradient, GEMM outputs).
    copies = 2 if any(geo.pad) else 1  # unpadded, x itself is used: only dx is new
    padded = copies * geo.N * geo.C * geo.Hp * geo.Wp * x.itemsize
    return dict(case=case.name, backend=backend_name, cap_bytes=cap, slowdown=slowdown,
                peak_bytes=peak, padded_bytes=padded, chunks=chunks)


def torch_case(case, dtype, repeats):
    """PyTorch's CPU kernels on the same arrays: forward, and backward via autograd."""
    import torch
    import torch.nn.functional as F

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    if case.kind == "conv":
        x, w, b, dy = (torch.from_numpy(a).to(tdtype) for a in case.arrays(dtype))
        inputs = [t.requires_grad_() for t in (x, w, b)]

        def forward():
            return F.conv2d(*inputs, **case.params())
    else:
        x, dy = (torch.from_numpy(a).to(tdtype) for a in case.arrays(dtype))
        inputs = [x.requires_grad_()]
        pool = F.max_pool2d if case.op == "max" else F.avg_pool2d

        def forward():
            return pool(inputs[0], case.k)
    y = forward()
    return dict(forward=measure(forward, repeats),
                backward=measure(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True),
                                 repeats))
