"""kernels.cases: the named layer shapes every harness times - their geometry, FLOPs and
arrays, worked out by hand, and that they are the layers the CNN architectures build."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernels
from kernels.cases import (ARCHITECTURES, CONV_CASES, POOL_CASES, QUICK_CASES, all_cases,
                           practical, sets)

# name: (N, C, F, kh*kw, groups, Ho = Wo worked out by hand from H, k, stride, padding)
#   Ho = (H + 2*padding - k) // stride + 1
CONV_EXPECTED = {
    "convnet.conv1": (64, 1, 32, 9, 1, 28),     # (28 + 2 - 3) // 1 + 1
    "convnet.conv2": (64, 32, 64, 9, 1, 14),    # (14 + 2 - 3) // 1 + 1
    "lenet5.c1": (64, 1, 6, 25, 1, 28),         # (28 + 4 - 5) // 1 + 1
    "lenet5.c3": (64, 6, 16, 25, 1, 10),        # (14 + 0 - 5) // 1 + 1
    "tiny.conv": (64, 1, 8, 9, 1, 26),          # (28 + 0 - 3) // 1 + 1
    "std.1x1": (64, 64, 64, 1, 1, 14),          # (14 + 0 - 1) // 1 + 1
    "std.strided": (64, 32, 64, 9, 1, 14),      # (28 + 2 - 3) // 2 + 1
    "std.grouped": (64, 64, 64, 9, 4, 14),      # (14 + 2 - 3) // 1 + 1
    "std.depthwise": (64, 64, 64, 9, 64, 14),   # (14 + 2 - 3) // 1 + 1
    "std.3x3x64": (64, 64, 64, 9, 1, 28),       # (28 + 2 - 3) // 1 + 1
}
# a few totals spelled out: 2 * N * F * (C/groups) * kh*kw * Ho*Wo
CONV_FLOPS_SPELLED_OUT = {
    "tiny.conv": 6_230_016,        # 2 * 64 * 8 * 1 * 9 * 676
    "convnet.conv2": 462_422_016,  # 2 * 64 * 64 * 32 * 9 * 196
    "std.depthwise": 14_450_688,   # 2 * 64 * 64 * 1 * 9 * 196
}
# name: (op, N, C, H, Ho) with the default stride = kernel size 2: Ho = H // 2
POOL_EXPECTED = {
    "convnet.pool1": ("max", 64, 32, 28, 14),
    "convnet.pool2": ("max", 64, 64, 14, 7),
    "lenet5.s2": ("avg", 64, 6, 28, 14),
    "lenet5.s4": ("avg", 64, 16, 10, 5),
    "tiny.pool": ("max", 64, 8, 26, 13),
}
NAIVE_TOO_SLOW = {"std.1x1", "std.strided", "std.grouped", "std.depthwise", "std.3x3x64"}


def test_every_case_has_an_expected_row():
    assert {n for n, c in CONV_CASES.items() if c.set in ("mnist", "std")} == set(CONV_EXPECTED)
    assert set(POOL_CASES) == set(POOL_EXPECTED)
    assert all_cases() == {**CONV_CASES, **POOL_CASES}


@pytest.mark.parametrize("name", list(CONV_EXPECTED))
def test_conv_case_flops(name):
    N, C, F, taps, groups, Ho = CONV_EXPECTED[name]
    expected = 2 * N * F * (C // groups) * taps * Ho * Ho
    if name in CONV_FLOPS_SPELLED_OUT:
        assert expected == CONV_FLOPS_SPELLED_OUT[name]
    case = CONV_CASES[name]
    assert case.flops_forward == expected
    assert case.flops_backward == 2 * expected
    assert case.geometry().y_shape == (N, F, Ho, Ho)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(CONV_EXPECTED))
def test_conv_case_arrays(name, dtype):
    N, C, F, taps, groups, Ho = CONV_EXPECTED[name]
    case = CONV_CASES[name]
    k = math.isqrt(taps)
    x, w, b, dy = case.arrays(dtype)
    assert x.shape == (N, C, case.H, case.H)
    assert w.shape == (F, C // groups, k, k)
    assert b.shape == (F,)
    assert dy.shape == (N, F, Ho, Ho)
    for a in (x, w, b, dy):
        assert a.dtype == np.dtype(dtype) and a.flags.c_contiguous
        assert np.isfinite(a).all() and a.std() > 0.5  # unit variance, not zeros
    again = case.arrays(dtype)
    for a, a2 in zip((x, w, b, dy), again):
        np.testing.assert_array_equal(a, a2, strict=True)  # seeded
    assert not np.array_equal(case.arrays(dtype, seed=1)[0], x)


@pytest.mark.parametrize("name", list(POOL_EXPECTED))
def test_pool_case_arrays(name):
    op, N, C, H, Ho = POOL_EXPECTED[name]
    case = POOL_CASES[name]
    assert case.op == op and case.k == 2 and case.kind == "pool"
    x, dy = case.arrays()
    assert x.shape == (N, C, H, H) and dy.shape == (N, C, Ho, Ho)
    assert x.dtype == dy.dtype == np.float32
    assert case.arrays(np.float64)[0].dtype == np.float64
    np.testing.assert_array_equal(case.arrays()[0], x, strict=True)


def test_practical_excludes_naive_only_where_naive_is_too_slow():
    slow = {name for name, case in all_cases().items() if not case.naive_ok}
    assert slow == NAIVE_TOO_SLOW | {n for n, c in CONV_CASES.items()
                                     if c.set not in ("mnist", "std")}
    for name, case in all_cases().items():
        for backend in kernels.available():
            expected = backend != "naive" or name not in slow
            assert practical(case, backend) is expected, (name, backend)


def test_quick_cases_and_architectures_exist():
    assert len(QUICK_CASES) == len(set(QUICK_CASES)) > 0
    for name in QUICK_CASES:
        assert name in all_cases()
        assert name.startswith("convnet.")
    for arch in ARCHITECTURES:
        assert any(n.startswith(arch + ".") for n in CONV_CASES), arch
    assert all(c.mnist for c in CONV_CASES.values() if c.name.split(".")[0] in ARCHITECTURES)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_mnist_cases_are_the_layers_of_the_architecture(arch):
    """kernels.cases names the conv and pool layers of each CNN by hand; they must be exactly
    the layers cnn.model builds (shapes traced by a forward pass at batch 64), or the
    benchmarks would time layers nobody trains."""
    from cnn import layers as L
    from cnn.model import build_model

    model = build_model(arch, backend=kernels.get_backend("im2col"))
    h = np.zeros((64, 1, 28, 28), np.float32)
    traced = set()
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            F, C, k, _ = layer.weight_shape
            traced.add(("conv", C, F, h.shape[2], k, layer.stride, layer.padding))
        elif isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
            traced.add((layer.kind, h.shape[1], h.shape[2], layer.kernel_size))
        h = layer.forward(h)
    named = {("conv", c.C, c.F, c.H, c.k, c.stride, c.padding) for n, c in CONV_CASES.items()
             if n.startswith(arch + ".")}
    named |= {(c.op, c.C, c.H, c.k) for n, c in POOL_CASES.items() if n.startswith(arch + ".")}
    assert named == traced
    assert all(c.N == 64 for n, c in {**CONV_CASES, **POOL_CASES}.items()
               if n.startswith(arch + "."))


# ------------------------------------------------------------------ sets of real networks

NETWORK_SETS = ("resnet50", "vgg16", "mobilenet", "deepbench", "large")
# name: (N, x shape, w shape, y shape) worked out by hand from the source's numbers
NETWORK_EXPECTED = {
    # ResNet's stem: (224 + 2*3 - 7) // 2 + 1 = 112
    "resnet50.conv1": (4, (4, 3, 224, 224), (64, 3, 7, 7), (4, 64, 112, 112)),
    # Caffe's strided 1x1: (56 - 1) // 2 + 1 = 28
    "resnet50.res3a_branch2a": (4, (4, 256, 56, 56), (128, 256, 1, 1), (4, 128, 28, 28)),
    # depthwise: one input channel per filter
    "mobilenet.dw13": (8, (8, 1024, 7, 7), (1024, 1, 3, 3), (8, 1024, 7, 7)),
    # DeepBench (700, 161, 1, 4, 32, 20, 5, 0, 0, 2, 2): H 161, W 700, kernel 5x20, stride 2
    "deepbench.speech_conv1": (1, (1, 1, 161, 700), (32, 1, 5, 20), (1, 32, 79, 341)),
    # stride (2, 8), padding 8: ((40+16-5)//2+1, (151+16-20)//8+1) = (26, 19)
    "deepbench.device_speech": (1, (1, 1, 40, 151), (32, 1, 5, 20), (1, 32, 26, 19)),
    # VGG conv1_2 at half resolution (112 instead of 224), 'same' 3x3
    "vgg16.conv1_2": (1, (1, 64, 112, 112), (64, 64, 3, 3), (1, 64, 112, 112)),
    # AlexNet conv1: (227 - 11) // 4 + 1 = 55
    "large.alexnet_conv1": (1, (1, 3, 227, 227), (96, 3, 11, 11), (1, 96, 55, 55)),
}


def test_the_network_sets_exist():
    groups = sets()
    assert list(groups)[:2] == ["mnist", "std"]
    for name in NETWORK_SETS:
        assert len(groups[name]) >= 8, name


@pytest.mark.parametrize("name", list(NETWORK_EXPECTED))
def test_network_case_geometry_by_hand(name):
    N, x_shape, w_shape, y_shape = NETWORK_EXPECTED[name]
    case = CONV_CASES[name]
    x, w, b, dy = case.arrays()
    assert (case.N, x.shape, w.shape, dy.shape) == (N, x_shape, w_shape, y_shape)


@pytest.mark.parametrize("name", [n for s in NETWORK_SETS for n in sets()[s]])
def test_every_network_case_has_a_source_and_fits_the_budget(name):
    """Each layer names where it comes from, belongs to the set its name says, and one
    forward + backward costs at most ~3 GFLOP (minutes per set on 2 cores)."""
    case = CONV_CASES[name]
    assert case.set == name.split(".")[0] and len(case.source) > 20
    assert any(word in case.source for word in ("oneDNN", "DeepBench", "XNNPACK", "convnet-",
                                                "fbcunn", "et al."))
    assert 3 * case.flops_forward <= 3.2e9, 3 * case.flops_forward / 1e9
    assert not case.naive_ok and case.geometry().y_shape[0] == case.N


def test_with_batch_scales_the_work():
    case = CONV_CASES["resnet50.res4a_branch2b"]
    assert case.with_batch(8).flops_forward == 2 * case.flops_forward
    assert case.with_batch(8).arrays()[0].shape[0] == 8 and case.N == 4
