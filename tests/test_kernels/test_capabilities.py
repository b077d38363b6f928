"""The capabilities record: every optional attribute's default in one place, read once when
a backend loads, from the same public attribute names plug-ins have always set (module
attributes included), and pooling lent by the registry to a backend that borrows it."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

import kernels
from kernels import contract, plugins
from kernels.backends import pooling
from kernels.support.sizes import WORKSPACE_CAP, ceil_div



def _conv_only(**attributes):
    """A plug-in as a module: its own convolution, module attributes, no pooling."""
    naive = kernels.get_backend("naive")
    module = types.ModuleType("conv_only_plugin")
    module.name = "conv_only"
    module.conv2d_forward, module.conv2d_backward = naive.conv2d_forward, naive.conv2d_backward
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def test_a_backend_that_states_nothing_gets_every_default():
    naive = kernels.get_backend("naive")
    bare = types.SimpleNamespace(**{m: getattr(naive, m) for m in contract.METHODS
                                    if m != "unsupported"})
    record = kernels.capabilities(bare)
    assert record == contract.Capabilities(passes=kernels.ALL_PASSES)
    assert record.unsupported(object()) is None  # unsupported is optional: computes all
    assert (record.pooling_from, record.max_workspace_bytes, record.error_model,
            record.nonfinite_spreads, record.fuses_relu, record.winner) == \
        (None, None, "direct", False, False, None)
    assert record.workspace_cap == WORKSPACE_CAP == 64 * 2**20
    assert not record.over_cap(object())  # no estimate: never over


def test_the_contract_check_is_the_protocols_methods():
    protocol = {n for n, v in vars(kernels.Backend).items()
                if callable(v) and not n.startswith("_")}
    assert set(contract.METHODS) == protocol
    assert set(plugins.CONV_METHODS + plugins.BACKWARD_METHODS + plugins.POOL_METHODS
               + contract.OPTIONAL_METHODS) == protocol


def test_module_attributes_of_a_plugin_become_its_record(fresh):
    estimate = lambda geo: 10  # noqa: E731
    module = _conv_only(POOLING_FROM="numba", MAX_WORKSPACE_BYTES=8, ERROR_MODEL="fft",
                        NONFINITE_SPREADS=True, workspace_estimate=estimate,
                        unsupported=lambda geo: "never")
    kernels.register("conv_only", module)
    record = kernels.capabilities("conv_only")
    assert (record.pooling_from, record.workspace_cap, record.error_model,
            record.nonfinite_spreads) == ("numba", 8, "fft", True)
    assert record.over_cap(None) and record.unsupported(None) == "never"
    # no pooling of its own: the registry lent it the shared one
    assert module.max_pool2d_forward is pooling.max_pool2d_forward
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y, cache = kernels.get_backend("conv_only").avg_pool2d_forward(x, 2)
    np.testing.assert_allclose(y, [[[[2.5, 4.5], [10.5, 12.5]]]])


def test_a_plugins_own_pooling_is_kept(fresh):
    """The example plug-in declares POOLING_FROM and still defines its pooling functions:
    those stay (it chose to look numba's up on first use)."""
    if "example" not in kernels.available():
        pytest.skip("the example plug-in (examples/plugin) is not installed")
    backend = kernels.get_backend("example")
    assert backend.max_pool2d_forward.__module__ == "convbench_example"
    assert kernels.capabilities("example").pooling_from == "numba"


def test_every_borrower_pools_with_the_shared_kernels():
    for name in kernels.available():
        if kernels.capabilities(name).borrows_pooling and kernels.is_ours(name):
            backend = kernels.get_backend(name)
            assert backend.max_pool2d_backward is pooling.max_pool2d_backward, name


def test_a_lender_that_is_not_there_is_an_error(fresh):
    with pytest.raises(ValueError, match="POOLING_FROM names 'nobody'"):
        kernels.register("orphan", _conv_only(POOLING_FROM="nobody"))
    assert "orphan" not in kernels.available()


def test_a_stated_capability_that_cannot_be_called_is_refused(fresh):
    with pytest.raises(ValueError, match="workspace_estimate attribute is not callable"):
        kernels.register("odd", _conv_only(POOLING_FROM="numba", workspace_estimate=3))


def test_the_record_is_read_once_and_frozen(fresh):
    module = _conv_only(POOLING_FROM="numba", ERROR_MODEL="fft")
    kernels.register("once", module)
    record = kernels.capabilities("once")
    module.ERROR_MODEL = "winograd"  # too late: the registry read it when it loaded
    assert kernels.capabilities(module) is record and record.error_model == "fft"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.error_model = "direct"


@pytest.mark.parametrize("a, b, expected", [(0, 4, 0), (1, 4, 1), (4, 4, 1), (5, 4, 2),
                                            (17, 16, 2)])
def test_ceil_div(a, b, expected):
    assert ceil_div(a, b) == expected
