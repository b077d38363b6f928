"""pytest-benchmark: every backend side by side on the shared cases of kernels.cases.

    pytest tests/test_bench/test_benchmarks.py --benchmark-only                   # all groups
    pytest tests --benchmark-only -k convnet.conv2                                # one layer

For each conv case, four groups: forward, backward-data, backward-weights and their sum
(the three passes run one after the other); for each pool case forward+backward; and each
architecture's training step. One row per backend, PyTorch's CPU kernels as a reference row
when torch is installed; GF/s goes to extra_info. In a plain `pytest` run each executes once,
untimed, as a smoke test (see conftest.py). The MNIST and standard cases by default; every
set of real networks, and the naive backend, with CONVBENCH_FULL=1.

Libraries (role LIBRARY: the frameworks, plug-ins) get rows in the conv and pool groups:
every framework the registry knows, skipped where its package is missing, and a pass it does
not compute skipped as such; the registered `torch` backend replaces the hand-built PyTorch
row. A user's own cases join the groups from the file CONVBENCH_CASES_FILE names
(kernels.cases.custom).
"""

import numpy as np
import pytest

import kernels
from kernels.cases import ARCHITECTURES, CONV_CASES, POOL_CASES, full_grid, practical
from kernels.cases.custom import from_environment

OURS = [b for b in kernels.available() if kernels.is_ours(b)]
FAST = [b for b in OURS if kernels.role(b) != kernels.REFERENCE]
BACKENDS = OURS if full_grid() else FAST
LIBRARIES = list(dict.fromkeys([*kernels.plugins.FRAMEWORKS,
                                *kernels.available(kernels.LIBRARY)]))
HAND_BUILT_TORCH = "torch" not in LIBRARIES  # PyTorch's row until torch is registered
USER_CASES = from_environment()
CONV = {**CONV_CASES, **{c.name: c for c in USER_CASES if c.kind == "conv"}}
POOL = {**POOL_CASES, **{c.name: c for c in USER_CASES if c.kind == "pool"}}
SMALL = {n: c for n, c in CONV.items() if full_grid() or c.set in ("mnist", "std", "custom")}
PASSES = ("forward", "backward_data", "backward_weights", "total")


def _supported(backend, case):
    unsupported = getattr(backend, "unsupported", lambda geometry: None)
    return unsupported(case.geometry()) is None


def _grid(cases, passes=(None,)):
    return [pytest.param(name, backend, *([step] if step else []),
                         id="-".join([name, backend] + ([step] if step else [])))
            for name in cases for backend in BACKENDS + LIBRARIES + ["torch"] * HAND_BUILT_TORCH
            for step in passes if backend in LIBRARIES or backend == "torch" or
            practical(cases[name], backend)]


def _library(backend, step):
    """A library's backend, or the reason its row is skipped."""
    if backend not in kernels.available():
        pytest.skip(f"{backend} is not installed")
    be = kernels.get_backend(backend)
    if step not in (None, "forward") and kernels.BACKWARD_DATA not in kernels.passes(be):
        pytest.skip(f"{backend} computes the forward pass only")
    return be


def _torch_conv(case, x, w, b, dy, step):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    tdy = torch.from_numpy(dy)
    y = F.conv2d(tx, tw, tb, **case.params())
    wanted = dict(forward=None, backward_data=[tx], backward_weights=[tw, tb])

    def run():
        if step == "forward":
            return F.conv2d(tx, tw, tb, **case.params())
        if step == "total":
            out = F.conv2d(tx, tw, tb, **case.params())
            return [torch.autograd.grad(out, ins, tdy, retain_graph=True)
                    for ins in ([tx], [tw, tb])]
        return torch.autograd.grad(y, wanted[step], tdy, retain_graph=True)
    return run


def _our_conv(backend, case, x, w, b, dy, step):
    _, cache = backend.conv2d_forward(x, w, b, **case.params())

    def run():
        if step == "forward":
            return backend.conv2d_forward(x, w, b, **case.params())
        if step == "backward_data":
            return backend.conv2d_backward(dy, cache, compute_dw=False)
        if step == "backward_weights":
            return backend.conv2d_backward(dy, cache, compute_dx=False)
        _, c = backend.conv2d_forward(x, w, b, **case.params())
        return (backend.conv2d_backward(dy, c, compute_dw=False),
                backend.conv2d_backward(dy, c, compute_dx=False))
    run()  # JIT warm-up outside the timing
    return run


@pytest.mark.parametrize("name, backend, step", _grid(SMALL, PASSES))
def test_conv_pass(benchmark, name, backend, step):
    case = CONV[name]
    x, w, b, dy = case.arrays(np.float32)
    if backend == "torch" and HAND_BUILT_TORCH:
        run = _torch_conv(case, x, w, b, dy, step)
    else:
        be = _library(backend, step) if backend in LIBRARIES else kernels.get_backend(backend)
        if not _supported(be, case):
            pytest.skip(f"{backend} does not compute {name}")
        run = _our_conv(be, case, x, w, b, dy, step)
    benchmark.group = f"{name} {step}"
    benchmark(run)
    flops = case.flops_forward * (3 if step == "total" else 1)
    if benchmark.stats is not None:  # None when benchmarks are disabled
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.median / 1e9
    hand_built = backend == "torch" and HAND_BUILT_TORCH
    if step == "backward_data" and not hand_built:  # the smoke run checks the shapes
        dx, dw, db = run()
        assert dx.shape == x.shape and dw is None and db is None and np.isfinite(dx).all()


@pytest.mark.parametrize("name, backend", _grid(POOL))
def test_pool_forward_backward(benchmark, name, backend):
    case = POOL[name]
    x, dy = case.arrays(np.float32)
    if backend in LIBRARIES and (be := _library(backend, "backward_data")) is not None \
            and hasattr(be, "POOLING_FROM"):
        pytest.skip(f"{backend} pools with {be.POOLING_FROM}'s kernels")
    if backend == "torch" and HAND_BUILT_TORCH:
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
    pytest.param(a, b, id=f"{a}-{b}") for a in ARCHITECTURES for b in FAST + ["torch"]])
def test_train_step(benchmark, arch, backend):
    from cnn.model import build_model
    from cnn.optim import Adam
    from cnn.torch_twin import torch_model

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
        if (reason := model.unsupported()) is not None:
            pytest.skip(reason)
        optimizer = Adam()

        def step():
            loss, _ = model.loss_and_grads(x, labels)
            optimizer.step(model.parameters())
            return loss
        step()
    benchmark.group = f"{arch}.train_step"
    loss = benchmark(step)
    assert np.isfinite(loss) and 0 < loss < 20
