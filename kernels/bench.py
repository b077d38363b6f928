"""Measurements behind `python -m kernels bench`: every backend, PyTorch and the GEMM limit,
timed in one process with pinned threads.

Method: each measurement is warmed up first (Numba compiles, caches fill), then repeated;
one sample is the mean of enough back-to-back calls to last >= 2 ms, so timer resolution
does not matter; we report the median and the 25-75 % spread of the samples. Workspace is
the peak of NumPy allocations seen by tracemalloc during forward+backward, minus the
results themselves (y, dx, dw, db), measured in a separate, untimed call.
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np

from . import get_backend
from .cases import ARCHITECTURES, practical

MIN_SAMPLE_SECONDS = 2e-3
NAIVE_PROBE_BATCH = 4  # --quick: naive on this many images, scaled linearly to the batch


def measure(fn, repeats, *, warmup=1):
    """Median and spread (seconds per call) of `repeats` samples of fn(), and how long the
    first warm-up call took (for Numba: compilation or loading its on-disk cache)."""
    first = None
    for _ in range(warmup):
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start if first is None else first
    calls, start = 1, time.perf_counter()
    fn()
    once = time.perf_counter() - start
    if once < MIN_SAMPLE_SECONDS:
        calls = int(np.ceil(MIN_SAMPLE_SECONDS / max(once, 1e-7)))
    samples = []
    gc.disable()  # a collection inside one sample would be charged to that backend
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples.append((time.perf_counter() - start) / calls)
    finally:
        gc.enable()
    p25, median, p75 = np.percentile(samples, [25, 50, 75])
    return dict(median=float(median), p25=float(p25), p75=float(p75),
                min=float(np.min(samples)), repeats=repeats, calls_per_sample=calls,
                first_call=first)


def gemm_peak(dtype, repeats, n=1536):
    """NumPy matmul rate (GF/s) on square n x n matrices: the machine's practical limit."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    stats = measure(lambda: a @ b, repeats)
    # The median, like every case's GF/s: comparing a best case with typical ones would
    # flatter the limit and belittle the backends.
    return dict(n=n, gflops=2 * n**3 / stats["median"] / 1e9,
                best_gflops=2 * n**3 / stats["min"] / 1e9)


def workspace_bytes(run):
    """Peak NumPy allocation of run() beyond the arrays it returns (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        results = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(a.nbytes for a in results if isinstance(a, np.ndarray))
    return max(0, peak - kept)


def _conv_calls(backend, case, x, w, b, dy):
    params = case.params()
    y, cache = backend.conv2d_forward(x, w, b, **params)

    def forward():
        return backend.conv2d_forward(x, w, b, **params)

    def backward():
        return backend.conv2d_backward(dy, cache)

    def both():
        y2, c2 = forward()
        return (y2, *backend.conv2d_backward(dy, c2))
    return forward, backward, both, cache


def _pool_calls(backend, case, x, dy):
    fwd = getattr(backend, f"{case.op}_pool2d_forward")
    bwd = getattr(backend, f"{case.op}_pool2d_backward")
    _, cache = fwd(x, case.k)

    def both():
        y2, c2 = fwd(x, case.k)
        return y2, bwd(dy, c2)
    return (lambda: fwd(x, case.k)), (lambda: bwd(dy, cache)), both, cache


def _shrink(arrays):
    """The first NAIVE_PROBE_BATCH images of x and dy (the first and last arrays)."""
    x, *middle, dy = arrays
    return (x[:NAIVE_PROBE_BATCH], *middle, dy[:NAIVE_PROBE_BATCH])


def time_case(case, backend_name, dtype, repeats, quick):
    """Forward/backward timings and workspace of one backend on one case."""
    backend = get_backend(backend_name)
    arrays = case.arrays(dtype)
    scale, note = 1.0, None
    if backend_name == "naive":
        repeats = 1  # seconds per call: one sample says enough, and more would take minutes
        if quick:
            arrays = _shrink(arrays)
            scale = case.N / NAIVE_PROBE_BATCH  # naive's cost is linear in the batch
            note = f"extrapolated from batch {NAIVE_PROBE_BATCH}"
    start = time.perf_counter()  # the first forward: for Numba, compilation or cache load
    calls = _conv_calls(backend, case, *arrays) if case.kind == "conv" else \
        _pool_calls(backend, case, *arrays)
    first_call = time.perf_counter() - start
    forward, backward, both, _ = calls
    result = dict(forward=measure(forward, repeats), backward=measure(backward, repeats))
    # The first forward and the first backward (measure's warm-up): Numba compiles here.
    result["first_call_seconds"] = first_call + result["backward"]["first_call"]
    for key in ("forward", "backward"):
        result[key] = {k: v * scale if isinstance(v, float) else v
                       for k, v in result[key].items()}
    result["workspace_bytes"] = None if scale != 1.0 else workspace_bytes(both)
    if note:
        result["note"] = note
    if backend_name == "auto":
        result["chose"] = backend.winner(calls[3])
    return result


def workspace_cap_case(case, dtype, repeats, cap):
    """im2col forward+backward under `cap` against no cap at all: slowdown, peak, chunks."""
    from . import im2col

    x, w, b, dy = case.arrays(dtype)
    saved = im2col.MAX_WORKSPACE_BYTES

    def both():
        y, cache = im2col.conv2d_forward(x, w, b, **case.params())
        return (y, *im2col.conv2d_backward(dy, cache))
    try:
        im2col.MAX_WORKSPACE_BYTES = cap
        chunks = len(im2col._chunks(case.geometry(x, w, b), x.itemsize))
        peak = workspace_bytes(both)
        slowdown = None  # one chunk: the cap changes nothing, timing it would time noise
        if chunks > 1:
            capped = measure(both, repeats)["min"]  # min: a ratio of two medians is noisier
            im2col.MAX_WORKSPACE_BYTES = 2**62
            slowdown = capped / measure(both, repeats)["min"]
    finally:
        im2col.MAX_WORKSPACE_BYTES = saved
    geo = case.geometry(x, w, b)
    # The padded input and its gradient are O(input) for every algorithm; the cap bounds
    # what im2col adds on top (columns, their gradient, GEMM outputs).
    copies = 2 if any(geo.pad) else 1  # unpadded, im2col uses x itself: only dx is new
    padded = copies * geo.N * geo.C * geo.Hp * geo.Wp * x.itemsize
    return dict(case=case.name, cap_bytes=cap, slowdown=slowdown, peak_bytes=peak,
                padded_bytes=padded, chunks=chunks)


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


def train_step_case(arch, backend_name, dtype, repeats, batch=64):
    """One optimisation step (forward, loss, backward, Adam update) of a CNN architecture."""
    from cnn.model import build_model
    from cnn.optim import Adam

    model = build_model(arch, backend=get_backend(backend_name), dtype=dtype)
    optimizer = Adam()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(dtype)
    labels = rng.integers(0, 10, batch)

    def step():
        model.loss_and_grads(x, labels)
        optimizer.step(model.parameters())
    return dict(step=measure(step, repeats, warmup=2))


def evaluate_case(arch, backend_name, dtype, repeats, images=10_000, batch=500):
    """Logits for `images` test-sized images, in batches, as `cnn evaluate` does."""
    from cnn.model import build_model

    model = build_model(arch, backend=get_backend(backend_name), dtype=dtype)
    x = np.random.default_rng(0).standard_normal((images, 1, 28, 28)).astype(dtype)
    return dict(evaluate=measure(lambda: model.predict_logits(x, batch), repeats))


def torch_model(arch, dtype):
    """The same architecture in torch.nn, built by translating our layers one by one."""
    import torch
    from torch import nn

    from cnn import layers as L
    from cnn.model import build_model

    ours = build_model(arch, backend=get_backend("naive"), dtype=dtype)  # naive: never called
    modules = []
    for layer in ours.layers:
        if isinstance(layer, L.Conv2D):
            F, C, k, _ = layer.shape
            modules.append(nn.Conv2d(C, F, k, stride=layer.stride, padding=layer.padding))
        elif isinstance(layer, L.Dense):
            modules.append(nn.Linear(*layer.params["w"].shape))
        elif isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
            pool = nn.MaxPool2d if isinstance(layer, L.MaxPool2D) else nn.AvgPool2d
            modules.append(pool(layer.kernel_size, layer.stride))
        else:
            modules.append({L.ReLU: nn.ReLU, L.Tanh: nn.Tanh, L.Flatten: nn.Flatten}[
                type(layer)]())
    return nn.Sequential(*modules).to(torch.float32 if dtype == np.float32 else torch.float64)


def torch_train_step(arch, dtype, repeats, batch=64):
    import torch

    model = torch_model(arch, dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, 1, 28, 28)).astype(dtype))
    labels = torch.from_numpy(rng.integers(0, 10, batch))

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()
    return dict(step=measure(step, repeats, warmup=2))


def torch_evaluate(arch, dtype, repeats, images=10_000, batch=500):
    import torch

    model = torch_model(arch, dtype).eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(
        (images, 1, 28, 28)).astype(dtype))

    def run():
        with torch.no_grad():
            return [model(x[i:i + batch]) for i in range(0, images, batch)]
    return dict(evaluate=measure(run, repeats))


__all__ = ["measure", "gemm_peak", "workspace_bytes", "time_case", "torch_case",
           "train_step_case", "evaluate_case", "torch_train_step", "torch_evaluate",
           "practical", "ARCHITECTURES"]
