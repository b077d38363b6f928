"""pytest-benchmark: every backend side by side on the shared cases of kernels.cases.

    pytest tests/test_bench_kernels.py --benchmark-only                   # all groups
    pytest tests/test_bench_kernels.py --benchmark-only -k convnet.conv2  # one layer

One benchmark group per case (forward + backward together), one row per backend, PyTorch's
CPU kernels as a reference row when torch is installed; GF/s goes to extra_info. In the
normal test run (`--benchmark-disable` in pyproject.toml) each runs once as a smoke test.
The naive backend joins only with CONVBENCH_FULL=1: it takes seconds per call.
"""

import numpy as np
import pytest

import kernels
from kernels.cases import ARCHITECTURES, CONV_CASES, POOL_CASES, full_grid, practical

FAST = [b for b in kernels.available() if kernels.role(b) != kernels.REFERENCE]
BACKENDS = kernels.available() if full_grid() else FAST


def _grid(cases):
    return [pytest.param(case, backend, id=f"{case}-{backend}")
            for case in cases for backend in BACKENDS + ["torch"]
            if backend == "torch" or practical(cases[case], backend)]


def _torch_conv(case, x, w, b, dy):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    inputs = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]

    def run():
        y = F.conv2d(*inputs, **case.params())
        return (y, *torch.autograd.grad(y, inputs, torch.from_numpy(dy)))
    return run


@pytest.mark.parametrize("name, backend", _grid(CONV_CASES))
def test_conv_forward_backward(benchmark, name, backend):
    case = CONV_CASES[name]
    x, w, b, dy = case.arrays(np.float32)
    if backend == "torch":
        run = _torch_conv(case, x, w, b, dy)
    else:
        be = kernels.get_backend(backend)

        def run():
            y, cache = be.conv2d_forward(x, w, b, **case.params())
            return (y, *be.conv2d_backward(dy, cache))
        run()  # JIT warm-up outside the timing
    benchmark.group = name
    y, dx, dw, db = (np.asarray(a.detach() if hasattr(a, "detach") else a) for a in
                     benchmark(run))
    flops = case.flops_forward + case.flops_backward
    if benchmark.stats is not None:  # None when benchmarks are disabled
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.median / 1e9
    assert y.shape == dy.shape and dx.shape == x.shape and dw.shape == w.shape
    assert np.isfinite(y).all() and np.isfinite(dx).all() and np.isfinite(dw).all()
    # db is a plain sum of n = N*Ho*Wo float32 terms per channel: whatever the summation
    # order, |error| <= n * eps * sum|dy| (the textbook bound for recursive summation).
    n = dy.shape[0] * dy.shape[2] * dy.shape[3]
    bound = n * np.finfo(np.float32).eps * np.abs(dy).sum(axis=(0, 2, 3), dtype=np.float64)
    assert np.all(np.abs(db - dy.sum(axis=(0, 2, 3), dtype=np.float64)) <= bound)


@pytest.mark.parametrize("name, backend", _grid(POOL_CASES))
def test_pool_forward_backward(benchmark, name, backend):
    case = POOL_CASES[name]
    x, dy = case.arrays(np.float32)
    if backend == "torch":
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F
        pool = F.max_pool2d if case.op == "max" else F.avg_pool2d
        xt = torch.from_numpy(x).requires_grad_()

        def run():
            y = pool(xt, case.k)
            return y, torch.autograd.grad(y, xt, torch.from_numpy(dy))[0]
    else:
        be = kernels.get_backend(backend)
        forward = getattr(be, f"{case.op}_pool2d_forward")
        backward = getattr(be, f"{case.op}_pool2d_backward")

        def run():
            y, cache = forward(x, case.k)
            return y, backward(dy, cache)
        run()
    benchmark.group = name
    y, dx = (np.asarray(a.detach() if hasattr(a, "detach") else a) for a in benchmark(run))
    # 2x2 windows, stride 2, no padding: max pool moves each dy unchanged to one input
    # position, avg pool splits it into four exact quarters (a power of two), so the float64
    # sums agree up to float64 rounding alone.
    assert y.shape == dy.shape and dx.shape == x.shape
    np.testing.assert_allclose(dx.sum(dtype=np.float64), dy.sum(dtype=np.float64), rtol=1e-9)


@pytest.mark.parametrize("arch, backend", [
    pytest.param(a, b, id=f"{a}-{b}") for a in ARCHITECTURES
    for b in FAST + ["torch"]])
def test_train_step(benchmark, arch, backend):
    from cnn.torch_twin import torch_model
    from cnn.model import build_model
    from cnn.optim import Adam

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    if backend == "torch":
        torch = pytest.importorskip("torch")
        model = torch_model(arch, np.float32)
        optimizer = torch.optim.Adam(model.parameters())
        xt, lt = torch.from_numpy(x), torch.from_numpy(labels)

        def step():
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt), lt)
            loss.backward()
            optimizer.step()
            return loss.item()
    else:
        model = build_model(arch, backend=kernels.get_backend(backend))
        optimizer = Adam()

        def step():
            loss, _ = model.loss_and_grads(x, labels)
            optimizer.step(model.parameters())
            return loss
        step()
    benchmark.group = f"{arch}.train_step"
    loss = benchmark(step)
    assert np.isfinite(loss) and 0 < loss < 20
