"""Dtype kept: float32 in, float32 out; float64 in, float64 out - for every result of conv
(y, dx, dw, db) and of both pools (y, dx). A configuration or pass the backend does not
compute is not asked for."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance.bounds import DTYPE_IDS, DTYPES
from kernels.conformance.checks import backward, backward_asks, conv_inputs, require_in_range

CATEGORY = "dtype"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_output_dtype_equals_input_dtype(backend, dtype):
    """y, dx, dw, db of conv and y, dx of both pools come back in the input dtype."""
    rng = np.random.default_rng(3)
    x, w, b = conv_inputs(rng, N=1, C=2, H=5, W=5, F=2, kh=3, kw=3, dtype=dtype)
    outputs = {}
    for pool in ("max", "avg"):
        yp, cp = getattr(backend, f"{pool}_pool2d_forward")(x, 2, stride=1)
        outputs[f"{pool} y"] = yp
        outputs[f"{pool} dx"] = getattr(backend, f"{pool}_pool2d_backward")(np.ones_like(yp), cp)
    _check(outputs, dtype)
    require_in_range(backend, x, w, b, padding=1)
    y, cache = backend.conv2d_forward(x, w, b, padding=1)
    dx, dw, db = backward(backend, np.ones_like(y), cache)
    compute_dx, compute_dw = backward_asks(backend)
    outputs = {"conv y": y}
    outputs.update({"conv dx": dx} if compute_dx else {})
    outputs.update({"conv dw": dw, "conv db": db} if compute_dw else {})
    _check(outputs, dtype)


def _check(outputs, dtype):
    for name, arr in outputs.items():
        assert isinstance(arr, np.ndarray), f"{name}: {type(arr).__name__}, not an ndarray"
        assert arr.dtype == np.dtype(dtype), f"{name}: {arr.dtype} != {np.dtype(dtype)}"
