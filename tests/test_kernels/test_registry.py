"""The backend registry: names, order, resolution, and a cheap `import kernels`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kernels

ROOT = Path(__file__).resolve().parents[2]
LADDER = ["naive", "strided", "im2col", "numba"]


def test_available_starts_with_the_ladder_in_order():
    """available() begins with naive, strided, im2col, numba, in that order (more may follow)."""
    names = kernels.available()
    assert isinstance(names, list)
    assert names[:len(LADDER)] == LADDER
    assert all(isinstance(n, str) for n in names)
    assert len(set(names)) == len(names), f"duplicate backend names: {names}"


def test_available_returns_a_copy():
    """Mutating the returned list does not change the registry."""
    names = kernels.available()
    names.append("bogus")
    names.remove("naive")
    assert kernels.available()[:len(LADDER)] == LADDER
    assert "bogus" not in kernels.available()


@pytest.mark.parametrize("name", kernels.available())
def test_every_name_resolves_to_a_backend_with_that_name(name):
    """get_backend(n) imports the backend; its `name` is n and it has the six entry points."""
    backend = kernels.get_backend(name)
    assert backend.name == name
    for fn in ("conv2d_forward", "conv2d_backward", "max_pool2d_forward",
               "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"):
        assert callable(getattr(backend, fn, None)), f"{name} lacks {fn}"


def test_unknown_name_error_lists_every_available_name():
    """The ValueError for an unknown name repeats the bad name and lists all known names."""
    with pytest.raises(ValueError) as info:
        kernels.get_backend("winograd")
    message = str(info.value)
    assert "winograd" in message
    for name in kernels.available():
        assert name in message, f"{name!r} missing from {message!r}"


def test_name_lookup_is_exact():
    """Names are case-sensitive and not stripped: 'Naive' and ' naive' are unknown."""
    for bad in ("Naive", " naive", "naive "):
        with pytest.raises(ValueError):
            kernels.get_backend(bad)


def test_import_kernels_does_not_import_numba():
    """`import kernels` (and resolving the naive backend) in a fresh interpreter leaves numba
    out of sys.modules: Numba is imported only when its backend is asked for. (Installed
    plug-ins are left out: available() imports them, and theirs are their own imports.)"""
    code = ("import sys, kernels, kernels.plugins\n"
            "kernels.plugins._entry_points = lambda: []\n"
            "before = 'numba' in sys.modules\n"
            "kernels.available(); kernels.get_backend('naive')\n"
            "print(before, 'numba' in sys.modules)\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"], result.stdout + result.stderr


# ------------------------------------------------------------------ the declared contract

@pytest.mark.parametrize("name", kernels.available())
def test_every_backend_implements_the_declared_contract(name):
    """kernels.Backend (a runtime-checkable Protocol) holds for every registered backend, and
    each entry point accepts the Protocol's keyword arguments."""
    import inspect

    backend = kernels.get_backend(name)
    assert isinstance(backend, kernels.Backend)
    for fn in ("conv2d_forward", "max_pool2d_forward", "avg_pool2d_forward"):
        declared = inspect.signature(getattr(kernels.Backend, fn)).parameters
        actual = inspect.signature(getattr(backend, fn)).parameters
        keywords = [p for p, v in declared.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
        assert all(k in actual for k in keywords), (name, fn, keywords, list(actual))


def test_roles_partition_the_registry():
    """Every backend has exactly one role; the reference is naive and is first; the
    dispatcher is auto; the algorithms are the rest of ours, in ladder order; the libraries
    (frameworks, plug-ins) come after all of ours."""
    by_role = {r: kernels.available(r) for r in kernels.ROLES}
    assert by_role[kernels.REFERENCE] == ["naive"] == kernels.available()[:1]
    assert by_role[kernels.DISPATCHER] == ["auto"]
    assert by_role[kernels.ALGORITHM] == LADDER[1:] + [
        n for n in kernels.available() if n not in LADDER and kernels.is_ours(n) and n != "auto"]
    ours = [n for n in kernels.available() if kernels.is_ours(n)]
    assert kernels.available()[:len(ours)] == ours
    assert sorted(sum(by_role.values(), [])) == sorted(kernels.available())
    for role, names in by_role.items():
        assert all(kernels.role(n) == role for n in names)


def test_unknown_role_and_unknown_name_are_errors():
    with pytest.raises(ValueError, match="unknown role 'fast'"):
        kernels.available("fast")
    with pytest.raises(ValueError, match="unknown backend 'bogus'"):
        kernels.role("bogus")
    with pytest.raises(TypeError, match="backend name must be a str"):
        kernels.role(3)
