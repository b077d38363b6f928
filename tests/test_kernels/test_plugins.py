"""Plug-in backends: entry points, CONVBENCH_BACKENDS and kernels.register(), and what a
broken plug-in does to the registry (nothing: it is listed unavailable with its reason)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import plugins
from kernels.backends import auto

ROOT = Path(__file__).resolve().parents[2]
OURS = ["naive", "strided", "im2col", "numba", "blocked", "winograd2x2", "winograd4x4", "fft", "auto"]



def _rows():
    return {row["name"]: row for row in kernels.status(load=True)}


def test_environment_variable_adds_a_library(fresh):
    fresh.setenv(plugins.ENVIRONMENT_VARIABLE, "mine=kernels.backends.naive")
    assert "mine" in kernels.available()
    assert kernels.role("mine") == kernels.LIBRARY and not kernels.is_ours("mine")
    assert kernels.origin("mine") == plugins.ENVIRONMENT_VARIABLE
    assert kernels.get_backend("mine") is kernels.get_backend("naive")
    assert "mine" in kernels.available(kernels.LIBRARY)
    assert "mine" not in auto.candidates()  # a library is never offered to auto


@pytest.mark.parametrize("item, reason", [
    ("broken", "is not name=package.module:object"),
    ("gone=no_such_package_xyz.mod:backend", "ModuleNotFoundError"),
    ("nothing=kernels.shapes", "lacks conv2d_forward"),
    ("attr=kernels.backends.naive:no_such_attribute", "AttributeError"),
    ("numba=kernels.backends.naive", "taken by the built-in backend"),
    ("9lives=kernels.backends.naive", "not a usable backend name"),
])
def test_a_broken_plug_in_is_listed_with_its_reason_and_breaks_nothing(fresh, item, reason):
    fresh.setenv(plugins.ENVIRONMENT_VARIABLE, f"{item},good=kernels.backends.naive")
    names = kernels.available()
    assert names[:len(OURS)] == OURS and "good" in names
    unavailable = [r for r in _rows().values()  # (a framework not installed here is too)
                   if r["status"] == "unavailable" and r["origin"] != "framework"]
    assert len(unavailable) == 1 and reason in unavailable[0]["reason"]
    assert "\n" not in unavailable[0]["reason"]
    assert unavailable[0]["name"] not in names


def test_an_unavailable_plug_in_is_a_clear_error_when_asked_for(fresh):
    fresh.setenv(plugins.ENVIRONMENT_VARIABLE, "gone=no_such_package_xyz")
    with pytest.raises(ValueError, match="'gone' is unavailable: cannot load no_such_package_xyz"):
        kernels.get_backend("gone")


def test_a_plug_in_that_raises_anything_on_import_is_contained(fresh, tmp_path):
    (tmp_path / "explodes.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    fresh.syspath_prepend(str(tmp_path))
    fresh.setenv(plugins.ENVIRONMENT_VARIABLE, "explodes=explodes")
    assert "explodes" not in kernels.available()
    assert _rows()["explodes"]["reason"] == "cannot load explodes: RuntimeError: boom second line"


def test_entry_points_are_discovered_lazily(fresh):
    found = [EntryPoint("viaep", "kernels.backends.naive", plugins.ENTRY_POINT_GROUP),
             EntryPoint("im2col", "kernels.backends.naive", plugins.ENTRY_POINT_GROUP)]
    fresh.setattr("importlib.metadata.entry_points",
                  lambda group=None: found if group == plugins.ENTRY_POINT_GROUP else [])
    assert "viaep" in kernels.available()
    assert kernels.origin("viaep").startswith("entry point")
    assert "taken by the built-in" in _rows()["im2col (entry point (unknown))"]["reason"]
    assert kernels.get_backend("im2col").name == "im2col"  # ours is untouched


def _forward_only():
    naive = kernels.get_backend("naive")
    module = types.SimpleNamespace(name="fwd", PASSES=(kernels.FORWARD,),
                                   conv2d_forward=naive.conv2d_forward)
    for fn in plugins.POOL_METHODS:
        setattr(module, fn, getattr(naive, fn))
    return module


def test_register_at_run_time_and_passes(fresh):
    kernels.register("fwd", _forward_only())
    try:
        assert kernels.passes("fwd") == (kernels.FORWARD,)
        assert kernels.passes("naive") == kernels.ALL_PASSES
        assert kernels.origin("fwd") == "register()" and kernels.role("fwd") == kernels.LIBRARY
        x = np.ones((1, 1, 3, 3))
        y, _ = kernels.get_backend("fwd").conv2d_forward(x, np.ones((1, 1, 2, 2)))
        assert y.shape == (1, 1, 2, 2)
    finally:
        plugins.unregister("fwd")
    assert "fwd" not in kernels.available()


def test_register_refuses_what_cannot_work(fresh):
    naive = kernels.get_backend("naive")
    with pytest.raises(ValueError, match="taken by the built-in"):
        kernels.register("numba", naive)
    with pytest.raises(TypeError, match="lacks conv2d_backward"):
        kernels.register("half", types.SimpleNamespace(
            conv2d_forward=naive.conv2d_forward,
            **{fn: getattr(naive, fn) for fn in plugins.POOL_METHODS}))
    with pytest.raises(ValueError, match="unknown role"):
        kernels.register("r", naive, role="best")
    with pytest.raises(TypeError, match="name must be a str"):
        kernels.register(3, naive)
    with pytest.raises(ValueError, match="not a usable backend name"):
        kernels.register("a,b", naive)
    with pytest.raises(TypeError, match="not a str"):
        kernels.register("s", "kernels.backends.naive")
    with pytest.raises(ValueError, match="PASSES must include the forward pass"):
        kernels.register("p", types.SimpleNamespace(PASSES=(kernels.BACKWARD_DATA,)))
    with pytest.raises(ValueError, match="unknown passes"):
        kernels.register("p", types.SimpleNamespace(PASSES=("forward", "sideways")))
    assert kernels.available()[:len(OURS)] == OURS


def test_library_role_is_filterable_and_ours_never_libraries():
    for name in kernels.available():
        assert kernels.is_ours(name) == (kernels.role(name) != kernels.LIBRARY)
    with pytest.raises(ValueError, match="unknown role"):
        kernels.available("framework")


def _list(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "kernels", "list", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_list_command_shows_every_backend_and_why_one_is_unavailable():
    done = _list(env_extra={plugins.ENVIRONMENT_VARIABLE: "gone=no_such_package_xyz"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["backend", "role", "origin", "passes", "status"]
    by_name = {line.split()[0]: line for line in lines[1:-1]}
    for name in OURS:
        assert "available" in by_name[name] and "built-in" in by_name[name]
    assert "unavailable: cannot load no_such_package_xyz" in by_name["gone"]


def test_list_json_is_strict_and_complete():
    done = _list("--json")
    assert done.returncode == 0, done.stderr

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    rows = json.loads(done.stdout, parse_constant=refuse)
    assert [r["name"] for r in rows][:len(OURS)] == OURS
    assert {"name", "role", "origin", "status", "passes", "reason"} <= set(rows[0])
    assert _list("--bogus").returncode == 2
