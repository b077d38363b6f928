"""The blocked backend's own concerns, beyond the conformance grid every backend runs: the
remainders of its channel blocks (channels, filters, widths and batches that are not
multiples of the block width or of the pixel tile), the layout conversions, the block width
derivation, the instructions its tiles compile to on every x86 target (tests/assembly.py),
that a skipped pass does no work, and that results do not depend on the width."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import assembly
import numpy as np
import pytest

import kernels
import kernels.backends.blocked as blocked
from kernels.backends.blocked import (backward_data, backward_weights, depthwise, forward,
                                      layout, registers)
from kernels.conformance.checks import check_conv, conv_inputs

DTYPES = [np.float32, np.float64]
TESTS = Path(__file__).resolve().parents[1]

# (N, C, H, W, F, kernel, params): every channel count, width and batch off the block and
# the 4-pixel tile, across strides, dilations, padding, groups and depthwise multipliers.
REMAINDERS = {
    "C17-F19-W13-N3": (3, 17, 9, 13, 19, 3, dict(padding=1)),
    "strided-remainders": (3, 17, 11, 13, 19, 3, dict(stride=2, padding=1)),
    "dilated-asymmetric": (2, 5, 10, 11, 7, (3, 2), dict(stride=(1, 2), dilation=(2, 1),
                                                       padding=(2, 0))),
    "groups-off-block": (2, 18, 8, 9, 30, 3, dict(groups=3, padding=1)),
    "groups-wide": (2, 40, 7, 7, 20, 1, dict(groups=2)),
    "depthwise-C24": (3, 24, 9, 13, 24, 3, dict(groups=24, padding=1)),
    "depthwise-multiplier": (2, 24, 9, 11, 48, 5, dict(groups=24, padding=2)),
    "depthwise-strided": (2, 20, 11, 11, 20, 3, dict(groups=20, stride=2, padding=1)),
    "one-channel": (2, 1, 9, 9, 3, 3, dict()),
    "same-padding": (1, 9, 7, 6, 11, 4, dict(padding="same")),
}


@pytest.fixture(params=[None, 4], ids=["machine-width", "width4"])
def width(request, monkeypatch):
    """The machine's block width, then a forced small one (more blocks, more remainders)."""
    monkeypatch.setattr(registers, "FORCED_BLOCK_WIDTH", request.param)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(REMAINDERS.values()), ids=list(REMAINDERS))
def test_remainders_match_the_definition(case, dtype, width):
    N, C, H, W, F, k, params = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(16)
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), dtype=dtype)
    check_conv(blocked, x, w, b, rng=rng, skip=False, **params)


@pytest.mark.parametrize("W", [1, 3, 4, 9, 12, 17])
def test_every_row_remainder_of_the_pixel_tiles(W):
    """Rows cut into T-pixel tiles and one narrower last tile, for W of 1 to 17."""
    T, R = blocked.forward.pixels_per_tile(W)
    assert T in blocked.forward.TILE_WIDTHS and R == W % T
    rng = np.random.default_rng(W)
    x, w, b = conv_inputs(rng, N=2, C=3, H=4, W=W + 2, F=5, kh=3, kw=3, dtype=np.float32)
    check_conv(blocked, x, w, b, rng=rng, skip=False)


def test_tile_widths_cut_rows_into_the_fewest_tiles():
    assert blocked.forward.pixels_per_tile(14) == (7, 0)   # convnet: 7 + 7, not 8 + 6
    assert blocked.forward.pixels_per_tile(28) == (7, 0)
    assert blocked.forward.pixels_per_tile(112) == (8, 0)
    assert blocked.forward.pixels_per_tile(10) == (5, 0)
    assert blocked.forward.pixels_per_tile(13) == (8, 5)
    assert blocked.forward.pixels_per_tile(3) == (8, 3)


@pytest.mark.parametrize("case", ["C17-F19-W13-N3", "groups-off-block", "depthwise-C24",
                                  "strided-remainders"])
def test_result_does_not_depend_on_the_block_width(case, monkeypatch):
    """Width 4 and the machine's width sum the same terms in different orders: equal to
    float64 rounding of the float64 inputs (and each is checked against naive above)."""
    N, C, H, W, F, k, params = REMAINDERS[case]
    rng = np.random.default_rng(3)
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=k, kw=k,
                          groups=params.get("groups", 1))
    results = []
    for forced in (None, 4, 2):
        monkeypatch.setattr(registers, "FORCED_BLOCK_WIDTH", forced)
        y, cache = blocked.conv2d_forward(x, w, b, **params)
        assert cache[3] == registers.block_width(x.dtype)  # (xb, w, geo, B, relu gate)
        dy = np.random.default_rng(5).standard_normal(y.shape)
        results.append((y, *blocked.conv2d_backward(dy, cache)))
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("groups,C", [(1, 5), (1, 16), (3, 21), (2, 34)])
@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (1, 2, 0, 3)])
def test_activation_layout_round_trip(groups, C, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, C, 5, 7))[:, :, :, ::-1]  # a non-contiguous view
    B = 8
    xb = layout.block_activations(x, groups, B, pad)
    Cg = C // groups
    assert xb.shape == (2, groups * layout.blocks(Cg, B), 5 + pad[0] + pad[1],
                        7 + pad[2] + pad[3], B)
    back = layout.unblock_activations(xb, groups, C, (5, 7), (pad[0], pad[2]))
    np.testing.assert_array_equal(back, x)
    # everything that is not a real channel at a real pixel is zero
    assert np.abs(xb).sum() == pytest.approx(np.abs(x).sum())
    # channel g*Cg + c sits in block g*Cgb + c // B, lane c % B
    g, c = groups - 1, Cg - 1
    blk = g * layout.blocks(Cg, B) + c // B
    np.testing.assert_array_equal(xb[:, blk, pad[0]:pad[0] + 5, pad[2]:pad[2] + 7, c % B],
                                  x[:, g * Cg + c])


@pytest.mark.parametrize("groups,F,Cg", [(1, 19, 17), (3, 6, 5), (2, 40, 3)])
def test_weight_layouts_round_trip(groups, F, Cg):
    w = np.random.default_rng(1).standard_normal((F, Cg, 3, 2))
    B = 4
    wf = layout.block_weights(w, groups, B)
    np.testing.assert_array_equal(layout.unblock_weights(wf, groups, w.shape), w)
    wt = layout.block_weights_transposed(w, groups, B)
    # the transposed layout holds the same taps with the two lane axes swapped
    np.testing.assert_array_equal(
        wt.reshape(groups, -1, *wt.shape[1:]).swapaxes(1, 2).swapaxes(-1, -2)
        .reshape(wf.shape), wf)
    Fg = F // groups
    f, c = F - 1, Cg - 1
    blk = (f // Fg) * layout.blocks(Fg, B) + (f % Fg) // B
    assert wf[blk, c // B, 2, 1, c % B, (f % Fg) % B] == w[f, c, 2, 1]


def test_depthwise_weight_layout_round_trip():
    w = np.random.default_rng(2).standard_normal((30, 1, 3, 3))  # C = 10, multiplier 3
    wd = depthwise.weights_to_blocked(w, 10, 4)
    assert wd.shape == (3, 3, 3, 3, 4)
    assert wd[2, 9 // 4, 1, 0, 9 % 4] == w[9 * 3 + 2, 0, 1, 0]
    np.testing.assert_array_equal(depthwise.weights_from_blocked(wd, 10), w)


@pytest.mark.parametrize("bits,width32,width64", [(512, 16, 8), (256, 8, 4), (128, 4, 2)])
def test_block_width_follows_the_vector_registers(bits, width32, width64, monkeypatch):
    monkeypatch.setattr(registers.machine, "vector_bits", lambda: bits)
    registers.vector_bytes.cache_clear()
    try:
        assert registers.block_width(np.float32) == width32
        assert registers.block_width(np.float64) == width64
    finally:
        registers.vector_bytes.cache_clear()


def test_block_width_is_this_machines_vector_width():
    """Without NUMBA_CPU_NAME/FEATURES the block is one register of the host's widest kind."""
    if "NUMBA_CPU_NAME" in os.environ:
        pytest.skip("NUMBA_CPU_NAME names another CPU than this one")
    from llvmlite import binding as llvm
    features = llvm.get_host_cpu_features()
    expected = 64 if features.get("avx512f", False) else 32 if features.get("avx", False) \
        else 16
    assert registers.block_width(np.float32) == expected // 4


def _refuse(monkeypatch, module, attribute):
    def fail(*args, **kwargs):
        raise AssertionError(f"{module.__name__}.{attribute} ran although not asked for")
    monkeypatch.setattr(module, attribute, fail)


@pytest.mark.parametrize("groups,stride", [(1, 1), (1, 2), (4, 1), (4, 2)])
def test_a_skipped_pass_does_no_work(groups, stride, monkeypatch):
    rng = np.random.default_rng(4)
    x, w, b = conv_inputs(rng, N=2, C=4, H=8, W=8, F=8 if groups == 1 else 4, kh=3, kw=3,
                          groups=groups, dtype=np.float32)
    y, cache = blocked.conv2d_forward(x, w, b, stride=stride, padding=1, groups=groups)
    dy = np.ones_like(y)
    with monkeypatch.context() as m:
        for module, attribute in ((backward_data, "kernel"), (depthwise, "backward_data"),
                                  (depthwise, "backward_data_rows")):
            _refuse(m, module, attribute)
        dx, dw, db = blocked.conv2d_backward(dy, cache, compute_dx=False)
    assert dx is None and dw is not None and db is not None
    with monkeypatch.context() as m:
        for module, attribute in ((backward_weights, "kernel"), (depthwise, "backward_weights"),
                                  (depthwise, "backward_weights_rows")):
            _refuse(m, module, attribute)
        dx, dw, db = blocked.conv2d_backward(dy, cache, compute_dw=False)
    assert dx.shape == x.shape and dw is None and db is None


def test_kernels_are_vectorised_with_fma():
    """The register tiles compile to vector FMAs on the widest register this CPU has (the
    point of the layout): float32, forward, backward-data and backward-weights tiles."""
    if registers.vector_bytes() < 32:
        pytest.skip("no AVX: vector FMA is not guaranteed")
    register = {64: "zmm", 32: "ymm"}[registers.vector_bytes()]
    found = assembly.blocked_tiles()
    for what, tile in found["tiles"].items():
        assert tile["fma"] and tile["registers"] == [register], f"{what}: {tile}"


# LLVM CPU -> the register blocked's tiles must use, and whether they multiply-add in one
# instruction. Intel's AVX-512 server cores carry LLVM's 256-bit preference: without
# kernels.support.machine.full_vector_width they got two ymm FMAs instead of one zmm.
TARGETS = {"znver4": ("zmm", True), "sapphirerapids": ("zmm", True),
           "icelake-server": ("zmm", True), "skylake-avx512": ("zmm", True),
           "haswell": ("ymm", True), "znver2": ("ymm", True), "nehalem": ("xmm", False)}


def _assembly_for(cpu, features=""):
    """assembly.blocked_tiles() compiled for LLVM CPU `cpu` (its own features when
    `features` is empty), in a process of its own: Numba fixes its target at start."""
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features,
               PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "assembly"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                         reason="the LLVM CPUs listed are x86 ones")


@x86
@pytest.mark.parametrize("cpu", TARGETS)
def test_every_targets_tiles_use_its_widest_registers(cpu):
    """The code another vendor's CPU gets, proven from this machine: compiled for `cpu`
    with that CPU's own features, never run."""
    register, fused = TARGETS[cpu]
    found = _assembly_for(cpu)
    lanes = {"zmm": 16, "ymm": 8, "xmm": 4}[register]
    assert found["block_width"] == lanes and found["vector_bits"] == lanes * 32
    for what, tile in found["tiles"].items():
        assert tile == dict(registers=[register], fma=fused), f"{cpu} {what}: {tile}"


@x86
def test_a_users_own_256_bit_preference_wins():
    """NUMBA_CPU_FEATURES naming the preference is the user's choice: blocked then blocks
    8 lanes, one ymm register, instead of splitting 16 lanes over two."""
    found = _assembly_for("sapphirerapids", "+prefer-256-bit")
    assert found["block_width"] == 8 and found["vector_bits"] == 256
    assert all(t["registers"] == ["ymm"] for t in found["tiles"].values())


def test_registered_as_an_algorithm():
    assert "blocked" in kernels.available(kernels.ALGORITHM)
    assert kernels.get_backend("blocked") is blocked


def test_formula_peak_is_cores_lanes_fma_and_listed_clock():
    """The computed cross-check beside the measured peak: 2 cores x 16 float32 lanes per
    cycle x 2 flops per FMA x 2596 MHz, the clock read from /proc/cpuinfo's text."""
    from kernels.bench.measuring import instruments
    text = "processor\t: 0\ncpu MHz\t\t: 2596.134\nprocessor\t: 1\ncpu MHz\t\t: 2400.0\n"
    assert instruments.clock_mhz(text) == 2596.134
    assert instruments.clock_mhz("processor : 0\n") is None
    assert instruments.formula_peak(np.float32, 2, 2596.134) == \
        pytest.approx(2 * 16 * 2 * 2.596134)
    assert instruments.formula_peak(np.float64, 1, 3000.0) == pytest.approx(8 * 2 * 3.0)
