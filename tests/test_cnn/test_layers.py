"""Layers, the loss and whole models of cnn: finite-difference gradient checks in float64,
the numerics of softmax cross-entropy, He initialisation statistics and dtype propagation.

Gradient checks use central differences with step H_STEP = 1e-6 and relative tolerance
RTOL = 1e-6 (see cnn_helpers for the error budget: truncation O(h^2) ~ 1e-12, round-off
O(eps/h) ~ 1e-10..1e-8, both far below 1e-6 of the gradient's scale). A layer is checked
through the scalar L = sum(y * r) for a fixed random r, whose gradient w.r.t. the layer output
is exactly r, so backward(r) must return dL/dx and fill dL/dparams.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from cnn.layers import (AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Tanh,
                        softmax_cross_entropy)
from cnn.model import ARCHITECTURES, build_model
from cnn_helpers import (all_indices, assert_grad_close, central_difference,
                         sample_indices)

# The layer wrappers are checked with the reference backend and two fast ones; the kernels
# themselves are cross-checked against naive by the kernel test files.
LAYER_BACKENDS = ["naive", "strided", "im2col"]


def check_layer(layer, x, rng):
    """Check dL/dx and dL/dparam (every entry) of `layer` at x for L = sum(forward(x) * r)."""
    y = layer.forward(x)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r.copy())
    assert dx.shape == x.shape
    analytic = {name: layer.grads[name].copy() for name in layer.params}
    assert set(analytic) == set(layer.params), "backward must fill a grad for every param"

    def loss():
        return float(np.sum(layer.forward(x) * r))

    idx = all_indices(x)
    assert_grad_close(dx[tuple(np.array(idx).T)], central_difference(loss, x, idx), "dL/dx")
    for name, p in layer.params.items():
        idx = all_indices(p)
        assert analytic[name].shape == p.shape, name
        assert_grad_close(analytic[name][tuple(np.array(idx).T)],
                          central_difference(loss, p, idx), f"dL/d{name}")


# (N, C, H, W, F, k, stride, padding)
CONV_CASES = {
    "k3-s1-p0": (2, 2, 5, 5, 3, 3, 1, 0),
    "k3-s2-p1": (2, 2, 6, 5, 2, 3, 2, 1),
    "k2-s2-p0-odd": (1, 3, 7, 7, 2, 2, 2, 0),   # 7 = 3 windows + 1 unused row/column
    "k3-s1-p2": (1, 1, 4, 4, 2, 3, 1, 2),       # output bigger than the input
    "k1-s1-p0": (2, 3, 3, 3, 2, 1, 1, 0),
}


@pytest.mark.parametrize("backend_name", LAYER_BACKENDS)
@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv2d_gradients(backend_name, case):
    N, C, H, W, F, k, stride, padding = CONV_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    layer = Conv2D(C, F, k, backend=kernels.get_backend(backend_name), rng=rng,
                   dtype=np.float64, stride=stride, padding=padding)
    layer.params["b"][...] = rng.standard_normal(F)  # a non-zero bias is part of the check
    x = rng.standard_normal((N, C, H, W))
    y = layer.forward(x)
    Ho = (H + 2 * padding - k) // stride + 1
    Wo = (W + 2 * padding - k) // stride + 1
    assert y.shape == (N, F, Ho, Wo)
    check_layer(layer, x, rng)


def distinct_values(shape, rng, spacing=0.01):
    """Distinct values at least `spacing` apart (a shuffled grid), centred on 0. spacing
    0.01 >> 2h = 2e-6, so no perturbation changes which element is a window's maximum and
    max pooling stays linear around the point."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2).reshape(shape) * spacing


# (shape, kernel_size, stride)
POOL_CASES = {
    "k2": ((2, 2, 4, 4), 2, None),
    "k2-odd": ((1, 2, 5, 5), 2, None),       # last row/column belongs to no window
    "k3-s2-overlap": ((1, 2, 7, 7), 3, 2),   # overlapping windows: gradients accumulate
    "k2-s1": ((1, 1, 4, 5), 2, 1),
}


@pytest.mark.parametrize("backend_name", LAYER_BACKENDS)
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D], ids=["max", "avg"])
def test_pool_gradients(backend_name, case, cls):
    shape, k, stride = POOL_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    layer = cls(k, backend=kernels.get_backend(backend_name), stride=stride)
    x = distinct_values(shape, rng)
    y = layer.forward(x)
    s = stride or k
    N, C, H, W = shape
    assert y.shape == (N, C, (H - k) // s + 1, (W - k) // s + 1)
    # Forward value check independent of any backend: the first window.
    reduce = np.max if cls is MaxPool2D else np.mean
    np.testing.assert_allclose(y[:, :, 0, 0], reduce(x[:, :, :k, :k], axis=(2, 3)),
                               rtol=1e-15, atol=1e-15)
    check_layer(layer, x, rng)


def test_relu_gradient_and_values():
    rng = np.random.default_rng(1)
    # |x| >= 0.1 >> h: no perturbation crosses the kink at 0.
    x = rng.choice([-1.0, 1.0], size=(3, 2, 4, 4)) * (0.1 + rng.random((3, 2, 4, 4)))
    layer = ReLU()
    np.testing.assert_array_equal(layer.forward(x), np.maximum(x, 0))
    check_layer(layer, x, rng)
    # The subgradient at exactly 0 is 0 (as PyTorch).
    layer.forward(np.array([[0.0, -0.0, 1.0]]))
    np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0, 0, 5.0]])


def test_tanh_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 7)) * 1.5
    layer = Tanh()
    np.testing.assert_allclose(layer.forward(x), np.tanh(x), rtol=1e-15)
    check_layer(layer, x, rng)


def test_flatten_gradient_and_shape():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 2, 4))
    layer = Flatten()
    y = layer.forward(x)
    assert y.shape == (2, 24)
    np.testing.assert_array_equal(y[1], x[1].ravel())
    check_layer(layer, x, rng)


def test_dense_gradients():
    rng = np.random.default_rng(4)
    layer = Dense(6, 4, rng=rng, dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(4)
    x = rng.standard_normal((3, 6))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["w"] + layer.params["b"],
                               rtol=1e-14)
    check_layer(layer, x, rng)


def test_gradient_check_is_sensitive():
    """The checker itself must reject a slightly wrong gradient (not pass by construction):
    a 1e-4 relative error in one entry of a correct gradient fails."""
    rng = np.random.default_rng(5)
    layer = Dense(4, 3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 4))
    r = rng.standard_normal((2, 3))
    layer.forward(x)
    layer.backward(r)
    idx = all_indices(layer.params["w"])
    numeric = central_difference(lambda: float(np.sum(layer.forward(x) * r)),
                                 layer.params["w"], idx)
    good = layer.grads["w"].ravel().copy()
    assert_grad_close(good, numeric, "correct gradient")
    bad = good.copy()
    k = int(np.argmax(np.abs(bad)))
    bad[k] *= 1 + 1e-4
    with pytest.raises(AssertionError):
        assert_grad_close(bad, numeric, "perturbed gradient")


# ------------------------------------------------------------------ softmax cross-entropy


def reference_cross_entropy(logits, labels):
    """Direct textbook computation (safe only for moderate logits)."""
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(labels)), labels]))
    onehot = np.eye(logits.shape[1])[labels]
    return loss, (p - onehot) / len(labels)


def test_softmax_cross_entropy_matches_direct_computation():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    loss, grad = softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = reference_cross_entropy(logits, labels)
    assert isinstance(loss, float)
    # Both are O(10)-term float64 computations: agreement to ~1e-15 relative expected.
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_gradient_rows_sum_to_zero():
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((8, 10)) * 5
    _, grad = softmax_cross_entropy(logits, rng.integers(0, 10, 8))
    # Each row is (softmax - onehot) / N: softmax sums to 1 up to ~10 eps.
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-15)
    assert np.abs(grad).max() > 0.01  # non-trivial rows


def test_softmax_cross_entropy_finite_difference():
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((4, 10)) * 2
    labels = rng.integers(0, 10, 4)
    _, grad = softmax_cross_entropy(logits, labels)
    idx = all_indices(logits)
    numeric = central_difference(lambda: softmax_cross_entropy(logits, labels)[0], logits, idx)
    assert_grad_close(grad.ravel(), numeric, "dL/dlogits")


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    big = 1e4  # exp(1e4) overflows float64 (max ~ exp(709))
    logits = np.array([[big, big - 1.0, -big],     # label 1: loss 1 + log(1 + e^-1)
                       [-big, -big + 2.0, -big],   # label 1: loss log(1 + 2 e^-2)
                       [big, 0.0, 0.0]])           # label 0: loss log(1 + 2 e^-1e4) = 0
    labels = np.array([1, 1, 0])
    # No overflow, invalid operation or division by zero (underflow of exp(-2e4) to 0 is
    # the intended, harmless outcome).
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, grad = softmax_cross_entropy(logits, labels)
    expected = np.array([1 + np.log1p(np.exp(-1.0)), np.log1p(2 * np.exp(-2.0)), 0.0])
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx(expected.mean(), rel=1e-12)
    # Gradient rows: softmax minus onehot, divided by N = 3.
    s0 = np.array([1, np.exp(-1.0), 0]) / (1 + np.exp(-1.0))
    s1 = np.array([np.exp(-2.0), 1, np.exp(-2.0)]) / (1 + 2 * np.exp(-2.0))
    expected_grad = (np.array([s0, s1, [1, 0, 0]]) - np.eye(3)[labels]) / 3
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-300)
    # A confidently wrong prediction costs exactly the logit gap.
    loss_wrong, _ = softmax_cross_entropy(np.array([[big, -big]]), np.array([1]))
    assert loss_wrong == pytest.approx(2 * big, rel=1e-15)


# ------------------------------------------------------------------ whole models


def whole_model_check(arch, backend_name, n, per_tensor, seed):
    """dL/dparam on a sample of entries of every parameter tensor and dL/dinput, for the
    mean cross-entropy L of a float64 model on a random batch of n images."""
    rng = np.random.default_rng(seed)
    model = build_model(arch, backend=kernels.get_backend(backend_name), seed=seed,
                        dtype=np.float64)
    # Non-zero biases, so their gradients pass through every non-linearity "off-centre".
    for name, p, _ in model.parameters():
        if name.endswith(".b"):
            p[...] = 0.05 * rng.standard_normal(p.shape)
    x = rng.standard_normal((n, 1, 28, 28))
    labels = rng.integers(0, 10, n)

    logits = model.forward(x)
    _, dlogits = softmax_cross_entropy(logits, labels)
    dx = model.backward(dlogits, input_grad=True)
    analytic = {name: g.copy() for name, _, g in model.parameters()}
    params = {name: p for name, p, _ in model.parameters()}
    assert all(g is not None for g in analytic.values())

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    def pick(arr, grad):
        # Half uniformly random entries (catch a gradient that is wrongly zero), half the
        # entries with the largest analytic gradient (ReLU nets have many exact zeros, which
        # alone would make a weak check).
        chosen = sample_indices(arr, per_tensor // 2, rng)
        top = np.argsort(np.abs(grad).ravel())[::-1][:per_tensor - len(chosen)]
        chosen += [np.unravel_index(i, arr.shape) for i in top]
        return chosen

    for name, p in params.items():
        idx = pick(p, analytic[name])
        numeric = central_difference(loss, p, idx)
        assert_grad_close([analytic[name][i] for i in idx], numeric, f"{arch}: dL/d{name}")
    idx = pick(x, dx)
    assert_grad_close([dx[i] for i in idx], central_difference(loss, x, idx),
                      f"{arch}: dL/dinput")
    return params


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_whole_model_gradients_im2col(arch):
    # convnet is the expensive one (one forward ~ 3 ms): 4 entries per tensor keeps it ~1 s.
    per_tensor = 4 if arch == "convnet" else 8
    params = whole_model_check(arch, "im2col", n=2, per_tensor=per_tensor, seed=11)
    assert len(params) == {"tiny": 4, "convnet": 8, "lenet5": 10}[arch]


def test_whole_model_gradients_naive_tiny():
    whole_model_check("tiny", "naive", n=1, per_tensor=4, seed=12)


@pytest.mark.parametrize("arch", ["tiny", "convnet"])
def test_whole_model_gradients_with_relu_fused(arch):
    """The blocked backend fuses each conv's ReLU (kernels.epilogues): the model skips the
    ReLU layers and the gradients still match finite differences."""
    model = build_model(arch, backend=kernels.get_backend("blocked"), dtype=np.float64)
    model.forward(np.zeros((1, 1, 28, 28)))
    assert model.fused, "the blocked backend should fuse the conv + ReLU pairs"
    whole_model_check(arch, "blocked", n=2, per_tensor=4, seed=13)


@pytest.mark.parametrize("arch", ["convnet", "tiny"])
def test_fused_and_separate_relu_give_the_same_step(arch, monkeypatch):
    """The same training step with the ReLU fused into the blocked convolutions and with
    separate ReLU layers: the loss and every gradient bit for bit (the mask is applied to
    the same products, the bias gradient summed from the same blocked dy)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 6)
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr("kernels.epilogues.fuses_relu", lambda backend: False)
        model = build_model(arch, backend=kernels.get_backend("blocked"))
        loss, logits = model.loss_and_grads(x, labels)
        assert bool(model.fused) == fused
        results.append((loss, logits, [g.copy() for _, _, g in model.parameters()]))
    (loss_f, logits_f, grads_f), (loss_s, logits_s, grads_s) = results
    assert loss_f == loss_s
    np.testing.assert_array_equal(logits_f, logits_s, strict=True)
    for fused_grad, separate_grad in zip(grads_f, grads_s):
        np.testing.assert_array_equal(fused_grad, separate_grad, strict=True)


def test_no_fusion_without_a_relu_or_a_fusing_backend():
    """lenet5 (tanh) fuses nothing; im2col has no fused pass, so its ReLU layers run."""
    x = np.zeros((1, 1, 28, 28), np.float32)
    for arch, backend in (("lenet5", "blocked"), ("convnet", "im2col")):
        model = build_model(arch, backend=kernels.get_backend(backend))
        model.forward(x)
        assert model.fused == set(), (arch, backend)


# ------------------------------------------------------------------ initialisation


@pytest.mark.parametrize("gain", [2.0, 1.0])
def test_he_init_statistics_conv(gain):
    rng = np.random.default_rng(13)
    layer = Conv2D(64, 128, 3, backend=kernels.get_backend("naive"), rng=rng,
                   dtype=np.float64, gain=gain)
    w = layer.params["w"]
    n, fan_in = w.size, 64 * 9
    expected = np.sqrt(gain / fan_in)
    # n = 73728 normal samples: the sample std has relative standard error 1/sqrt(2n) =
    # 0.26 %, the mean has standard error std/sqrt(n). 2 % (7.7 SE) and 5 SE never fail by
    # chance, but a wrong fan-in (e.g. C instead of C*k*k: a factor 3) or gain (sqrt 2) does.
    assert w.std() == pytest.approx(expected, rel=0.02)
    assert abs(w.mean()) < 5 * expected / np.sqrt(n)
    np.testing.assert_array_equal(layer.params["b"], 0)


@pytest.mark.parametrize("gain", [2.0, 1.0])
def test_he_init_statistics_dense(gain):
    rng = np.random.default_rng(14)
    layer = Dense(1024, 256, rng=rng, dtype=np.float64, gain=gain)
    w = layer.params["w"]
    expected = np.sqrt(gain / 1024)
    # n = 262144: relative SE of the std 0.14 %; 1 % is 7 SE.
    assert w.std() == pytest.approx(expected, rel=0.01)
    assert abs(w.mean()) < 5 * expected / np.sqrt(w.size)
    np.testing.assert_array_equal(layer.params["b"], 0)


def test_he_init_inside_convnet():
    """The architecture passes the right fan-in and gain to its big layers."""
    model = build_model("convnet", backend=kernels.get_backend("naive"), seed=3)
    params = model.state_dict()
    # conv2: 32 -> 64, 3x3: fan_in 288, gain 2, n = 18432 (SE 0.52 %, tolerance 3 %).
    assert params["3.w"].std() == pytest.approx(np.sqrt(2 / 288), rel=0.03)
    # dense 3136 -> 128, gain 2, n = 401408 (SE 0.11 %, tolerance 1 %).
    assert params["7.w"].std() == pytest.approx(np.sqrt(2 / 3136), rel=0.01)
    # logits layer 128 -> 10, gain 1 (LeCun), n = 1280 (SE 2 %, tolerance 10 %).
    assert params["9.w"].std() == pytest.approx(np.sqrt(1 / 128), rel=0.10)


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("dtype", [None, np.float32, np.float64], ids=["default", "f32", "f64"])
def test_dtypes_follow_the_model(arch, dtype):
    backend = kernels.get_backend("strided")
    model = (build_model(arch, backend=backend) if dtype is None
             else build_model(arch, backend=backend, dtype=dtype))
    want = np.dtype(np.float32 if dtype is None else dtype)
    assert model.dtype == want
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(want)
    labels = np.array([3, 7])
    loss, logits = model.loss_and_grads(x, labels)
    assert logits.dtype == want and logits.shape == (2, 10)
    assert np.isfinite(loss)
    dx = model.backward(softmax_cross_entropy(model.forward(x), labels)[1], input_grad=True)
    assert dx.dtype == want and dx.shape == x.shape
    names = []
    for name, p, g in model.parameters():
        names.append(name)
        assert p.dtype == want, name
        assert g is not None and g.dtype == want and g.shape == p.shape, name
    assert names, "model has parameters"


def test_build_model_rejects_bad_arch_and_dtype():
    backend = kernels.get_backend("naive")
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        build_model("resnet", backend=backend)
    with pytest.raises(TypeError, match="float16"):
        build_model("tiny", backend=backend, dtype=np.float16)

