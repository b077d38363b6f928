"""Property tests: random valid configurations, every backend against the naive reference.

The strategies (`kernel_helpers.conv_configs` / `pool_configs`, shared with the PyTorch oracle)
are constructive: they draw the kernel, dilation, stride and padding first and then an input
size that makes the output non-empty, so no example is wasted on an error case (errors have
their own suite). The only filter is a work budget on the output size that keeps the
pure-Python naive reference fast. Array values come from a drawn seed: standard normal, or
small integers (exact arithmetic; frequent ties in max pooling).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given

from kernel_helpers import (check_avg_pool, check_conv, check_max_pool, conv_configs,
                            conv_inputs, pool_configs, pool_input)


@given(cfg=conv_configs())
def test_conv_random_configs_match_naive(candidate, cfg):
    """Random valid conv2d: y, dx, dw, db within the rounding bound of naive float64 (of the
    algorithm's error model); a backend refuses what it does not compute, with its reason."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv(candidate, x, w, b, rng=rng, **params)


@given(cfg=conv_configs(unit_stride=True))
def test_conv_random_unit_stride_configs_match_naive(candidate, cfg):
    """The same at stride and dilation 1, where every algorithm computes every example (the
    general strategy mostly draws configurations the transform algorithms refuse)."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv(candidate, x, w, b, rng=rng, **params)


@given(cfg=pool_configs())
def test_max_pool_random_configs_match_naive(candidate, cfg):
    """Random valid max pool: forward exactly naive's, backward within the rounding bound."""
    x_spec, k, params, seed = cfg
    rng = np.random.default_rng(seed)
    check_max_pool(candidate, pool_input(rng, **x_spec), k, rng=rng, **params)


@given(cfg=pool_configs())
def test_avg_pool_random_configs_match_naive(candidate, cfg):
    """Random valid avg pool: forward and backward within the rounding bound."""
    x_spec, k, params, seed = cfg
    rng = np.random.default_rng(seed)
    check_avg_pool(candidate, pool_input(rng, **x_spec), k, rng=rng, **params)
