"""Bad backend names: the registry's errors. (Every backend's errors for bad arguments, and its
non-finite policy, are in the conformance suite: kernels/conformance/test_bad_inputs.py and
test_non_finite.py.)"""

from __future__ import annotations

import pytest

import kernels
from kernels.conformance.conventions import all_of, word


def test_unknown_backend_name_lists_available():
    """get_backend('nope') is a ValueError whose message names the bad name and every
    registered backend."""
    with pytest.raises(ValueError, match=all_of("nope", *map(word, kernels.available()))):
        kernels.get_backend("nope")


@pytest.mark.parametrize("bad", [None, 1, b"naive", ["naive"]], ids=repr)
def test_backend_name_must_be_str(bad):
    """A non-str backend name is a TypeError."""
    with pytest.raises(TypeError, match="name"):
        kernels.get_backend(bad)
