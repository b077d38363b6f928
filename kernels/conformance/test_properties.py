"""Properties: random valid configurations, every backend against the naive reference.

The strategies (`strategies.conv_configs` / `pool_configs`, shared with the PyTorch oracle)
draw every configuration of the contract. A drawn conv configuration out of the backend's
declared range must be refused with its reason; it is then noted, not computed (a test whose
every example was out of range is reported as skipped with the reasons). Array values come
from a drawn seed: standard normal, or small integers (exact arithmetic; frequent ties in max
pooling).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given

from kernels.conformance.checks import (check_avg_pool, check_conv, check_max_pool,
                                        conv_inputs, pool_input)
from kernels.conformance.strategies import conv_configs, pool_configs

CATEGORY = "properties"


@given(cfg=conv_configs())
def test_conv_random_configs_match_naive(candidate, cfg):
    """Random valid conv2d: y, dx, dw, db within the rounding bound of naive float64 (of the
    algorithm's error model); a backend refuses what it does not compute, with its reason."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv(candidate, x, w, b, rng=rng, skip=False, **params)


@given(cfg=conv_configs(unit_stride=True))
def test_conv_random_unit_stride_configs_match_naive(candidate, cfg):
    """The same at stride and dilation 1, where every algorithm of ours computes every
    example (the general strategy mostly draws configurations the transform algorithms
    refuse)."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv(candidate, x, w, b, rng=rng, skip=False, **params)


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
