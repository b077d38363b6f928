"""How the "bad inputs" category judges a refusal (test_bad_inputs.py: the forward passes,
test_bad_grads.py: a bad dy), and the small inputs its cases start from.

Correctness, for every backend: a bad input is refused with a ValueError or TypeError -
accepting it silently or crashing with another exception fails. The rest is a house
convention (kernels.conformance.conventions: mandatory for convbench's own backends, noted for
a plug-in): which of the two classes, the message's wording, and refusing a float32/float64
mix, which a backend may instead promote if every number it then computes is right.
"""

from __future__ import annotations

import numpy as np

from kernels.conformance import conventions
from kernels.conformance.bounds import error_bound
from kernels.conformance.conventions import describe


def _x(shape=(2, 2, 5, 5), dtype=np.float64):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def _w(shape=(3, 2, 3, 3), dtype=np.float64):
    return np.random.default_rng(1).standard_normal(shape).astype(dtype)


def _b(shape=(3,), dtype=np.float64):
    return np.random.default_rng(2).standard_normal(shape).astype(dtype)


def promotable(call):
    """Mark a call whose inputs mix float32 and float64: refusing it is the convention,
    computing it right (promoted) is allowed."""
    call.promotable = True
    return call


def assert_promoted_right(got, ref, scale, K, inputs, own_dtype, what):
    """A result computed from mixed float32/float64 inputs: an ndarray of the pass's own dtype
    (`own_dtype`) or the promoted one, within the rounding bound of the least precise input
    (float32) around the float64 reference."""
    dtypes = [a.dtype for a in inputs if isinstance(a, np.ndarray)]
    allowed = {np.dtype(own_dtype), np.result_type(*dtypes)}
    label = f"{what} (computed from a float32/float64 mix instead of refusing it)"
    assert isinstance(got, np.ndarray), f"{label}: {type(got).__name__}, not an ndarray"
    assert got.dtype in allowed, \
        f"{label}: dtype {got.dtype}, expected one of {sorted(map(str, allowed))}"
    assert got.shape == ref.shape, f"{label}: shape {got.shape}, expected {ref.shape}"
    low = min(dtypes, key=lambda d: np.finfo(d).bits)
    bound = error_bound(scale, K, low)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= bound)
    assert not bad.any(), f"{label}: {int(bad.sum())} of {bad.size} elements outside the " \
        f"rounding bound of {low} (K={K}); worst |err| {float(np.nanmax(err)):.3g}"


def refuses(run, exc, pattern, helper, check_promoted=None):
    """run() must refuse: a ValueError or TypeError (correctness), `exc` with a message
    matching `pattern` (conventions, met by `helper`). check_promoted: run() may instead
    compute a float32/float64 mix, if the result passes check_promoted(result)."""
    wanted = f"expected {exc.__name__} with a message that {describe(pattern)} - {helper} " \
             f"raises it"
    try:
        result = run()
    except (ValueError, TypeError) as error:
        conventions.check_refusal(error, exc, pattern, helper)
        return
    except Exception as error:  # the contract's refusal is a ValueError or a TypeError
        first = next(iter(str(error).strip().splitlines()), "")
        raise AssertionError(f"refused with {type(error).__name__} ({first!r}), neither "
                             f"ValueError nor TypeError; {wanted}") from error
    if check_promoted is None:
        raise AssertionError(f"accepted a bad input silently (returned "
                             f"{type(result).__name__}); {wanted}")
    check_promoted(result)
    conventions.breach(conventions.MIXED_DTYPES, helper,
                       f"promoted a float32/float64 mix (right) instead of refusing it; "
                       f"{wanted}")
