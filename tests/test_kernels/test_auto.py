"""The `auto` backend's own behaviour: which backend it picks, when it measures, what it
remembers (in the process and in the persistent cache) and how it fails.

Its numerical results are the conformance suite's business (test_conformance.py runs auto
like every backend). Here most tests replace the candidates with fake backends: wrappers
around a real backend that count their calls and advance a fake clock (kernels.backends.auto's own
`time` is swapped for it) by a fixed cost per call, so which candidate is "fastest" is
decided by the test, exactly, never by the machine's load.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import kernels
import kernels.backends.auto as auto

ROOT = Path(__file__).resolve().parents[2]
NAIVE = kernels.get_backend("naive")
FUNCTIONS = ("conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward",
             "avg_pool2d_forward", "avg_pool2d_backward")


@pytest.fixture(autouse=True)
def fresh_auto(monkeypatch):
    """Empty decision tables and no persistent cache for each test; the module's state
    (shared with the rest of the suite) is restored afterwards."""
    monkeypatch.setattr(auto, "_decisions", {})
    monkeypatch.setattr(auto, "_timings", {})
    monkeypatch.setattr(auto.store, "_persistent", None)
    monkeypatch.delenv("CONVBENCH_AUTO_CACHE", raising=False)


def reset_state(monkeypatch):
    """What a new process would start with (the cache file, if any, stays)."""
    monkeypatch.setattr(auto, "_decisions", {})
    monkeypatch.setattr(auto, "_timings", {})
    monkeypatch.setattr(auto.store, "_persistent", None)


class FakeBackend:
    """A registered backend's six entry points, delegating to a real backend, counting
    calls, and costing `cost` fake seconds (or real seconds of sleep) per call."""

    def __init__(self, name, real, cost, clock, calls, sleep=0.0):
        self.name, self._real, self._cost, self._clock = name, real, cost, clock
        self._calls, self._sleep = calls, sleep

    def unsupported(self, geometry):
        return self._real.unsupported(geometry)

    def __getattr__(self, fn):
        if fn not in FUNCTIONS:
            raise AttributeError(fn)
        real = getattr(self._real, fn)

        def call(*args, **kwargs):
            self._calls[self.name, fn] += 1
            self._clock.now += self._cost
            if self._sleep:
                time.sleep(self._sleep)
            return real(*args, **kwargs)
        return call


class Fakes:
    """Installs fake candidates into kernels.backends.auto: a registry (`available`) of
    naive + the fakes + auto, a `get_backend` that serves only the fakes (asking for naive
    or auto fails the test), and a fake clock."""

    def __init__(self, monkeypatch, costs, real="im2col", sleeps=None, fake_clock=True):
        self.now = 0.0
        self.calls = collections.Counter()
        self.requested = []
        real_backend = kernels.get_backend(real)
        self.backends = {name: FakeBackend(name, real_backend, cost, self, self.calls,
                                           (sleeps or {}).get(name, 0.0))
                         for name, cost in costs.items()}
        roles = {"naive": kernels.REFERENCE, **dict.fromkeys(costs, kernels.ALGORITHM),
                 "auto": kernels.DISPATCHER}
        monkeypatch.setattr(auto, "available",
                            lambda role=None: [n for n, r in roles.items() if role in (None, r)])
        monkeypatch.setattr(auto, "get_backend", self.get_backend)
        if fake_clock:
            monkeypatch.setattr(auto, "time", types.SimpleNamespace(perf_counter=self.perf_counter))

    def perf_counter(self):
        return self.now

    def get_backend(self, name):
        self.requested.append(name)
        assert name in self.backends, f"auto asked for {name!r}, not a candidate"
        return self.backends[name]

    def count(self, name=None, fn=None):
        return sum(n for (b, f), n in self.calls.items()
                   if (name is None or b == name) and (fn is None or f == fn))


def conv_arrays(seed=0, N=2, C=3, H=7, W=6, F=4, k=3, dtype=np.float32, bias=True, groups=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C // groups, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype) if bias else None
    return x, w, b


def only_key():
    keys = list(auto.decisions())
    assert len(keys) == 1, keys
    return keys[0]


# ------------------------------------------------------------------ candidates

def test_candidates_are_the_registered_backends_but_naive_and_auto():
    """Our algorithms only: naive would take minutes per measurement, auto cannot measure
    itself, and a library (a framework, a plug-in) is never ours to dispatch to."""
    names = auto.candidates()
    assert names == [b for b in kernels.available()
                     if b not in ("naive", "auto") and kernels.is_ours(b)]
    assert names and not [b for b in names if kernels.role(b) == kernels.LIBRARY]
    assert names == kernels.available(kernels.ALGORITHM)
    assert names, "auto needs at least one candidate"
    assert "naive" not in names and "auto" not in names
    for name in names:
        assert kernels.get_backend(name).name == name


def test_fake_registry_naive_and_auto_never_measured(monkeypatch):
    """With naive and auto in the registry, measuring touches only the other backends (the
    fake get_backend fails on any other name) and each of them exactly REPEATS + 1 times."""
    fakes = Fakes(monkeypatch, {"one": 1.0, "two": 2.0})
    assert auto.candidates() == ["one", "two"]
    x, w, b = conv_arrays()
    auto.conv2d_forward(x, w, b)
    assert set(fakes.requested) == {"one", "two"}
    assert fakes.count("two", "conv2d_forward") == auto.REPEATS + 1
    assert fakes.count("one", "conv2d_forward") == auto.REPEATS + 2  # + the dispatched call


# ------------------------------------------------------------------ real dispatch

def test_real_conv_dispatch_records_one_decision(monkeypatch):
    """With the real registry: auto's result is the winner's own result bit for bit, the
    winner is a candidate, and decisions() holds this configuration once with every
    candidate's measured seconds, the winner's being the smallest."""
    requested = []
    real_get = auto.get_backend
    monkeypatch.setattr(auto, "get_backend", lambda n: requested.append(n) or real_get(n))
    x, w, b = conv_arrays(seed=1)
    y, cache = auto.conv2d_forward(x, w, b, padding=1)
    chosen = auto.winner(cache)
    assert chosen in auto.candidates()
    assert "naive" not in requested and "auto" not in requested
    assert set(requested) == set(auto.candidates())

    record = auto.decisions()[only_key()]
    assert record["backend"] == chosen
    seconds = record["seconds"]
    assert set(seconds) == set(auto.candidates())
    assert all(isinstance(s, float) and s > 0 for s in seconds.values())
    assert seconds[chosen] == min(seconds.values())

    backend = kernels.get_backend(chosen)
    y_own, cache_own = backend.conv2d_forward(x, w, b, padding=1)
    np.testing.assert_array_equal(y, y_own, strict=True)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(y.dtype)
    for name, got, own in zip(("dx", "dw", "db"), auto.conv2d_backward(dy, cache),
                              backend.conv2d_backward(dy, cache_own)):
        np.testing.assert_array_equal(got, own, err_msg=name, strict=True)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_real_pool_dispatch_records_one_decision(op):
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8))
    y, cache = getattr(auto, f"{op}_pool2d_forward")(x, 2)
    chosen = auto.winner(cache)
    record = auto.decisions()[only_key()]
    assert only_key().startswith(f"{op}pool|")
    assert record["backend"] == chosen and chosen in auto.candidates()
    # every candidate with pooling of its own (winograd and fft borrow numba's)
    own = [c for c in auto.candidates() if not hasattr(kernels.get_backend(c), "POOLING_FROM")]
    assert set(record["seconds"]) == set(own) and "numba" in own and "fft" not in own
    backend = kernels.get_backend(chosen)
    y_own, cache_own = getattr(backend, f"{op}_pool2d_forward")(x, 2)
    np.testing.assert_array_equal(y, y_own, strict=True)
    dy = np.random.default_rng(4).standard_normal(y.shape)
    np.testing.assert_array_equal(getattr(auto, f"{op}_pool2d_backward")(dy, cache),
                                  getattr(backend, f"{op}_pool2d_backward")(dy, cache_own),
                                  strict=True)


# ------------------------------------------------------------------ measuring once

def test_second_call_does_not_measure_again(monkeypatch):
    """Same configuration, new arrays: no candidate runs again, only the winner's forward
    (and, on request, its backward); the decision table does not grow."""
    fakes = Fakes(monkeypatch, {"slow": 2.0, "fast": 1.0})
    x, w, b = conv_arrays(seed=0)
    auto.conv2d_forward(x, w, b, stride=2, padding=1)
    first = auto.decisions()
    measured = fakes.count()
    assert measured == 2 * 2 * (auto.REPEATS + 1) + 1  # 2 candidates x (fwd + bwd) x runs

    x2, w2, b2 = conv_arrays(seed=5)
    y, cache = auto.conv2d_forward(x2, w2, b2, stride=2, padding=1)
    assert fakes.count() == measured + 1
    assert fakes.calls["fast", "conv2d_forward"] == auto.REPEATS + 3
    auto.conv2d_backward(np.ones_like(y), cache)
    assert fakes.count() == measured + 2
    assert auto.decisions() == first


def _variants():
    """(label, call) pairs, each a configuration differing from the base in one respect."""
    x, w, b = conv_arrays(seed=0)

    def conv(x=x, w=w, b=b, **params):
        return lambda: auto.conv2d_forward(x, w, b, **{"padding": 1, **params})
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    xg, wg, bg = conv_arrays(seed=0, C=4, F=4, groups=2)
    return [
        ("base", conv()),
        ("batch", conv(x=np.concatenate([x, x]))),
        ("height", conv(x=np.ascontiguousarray(x[:, :, :-1]))),
        ("filters", conv(w=w[:3], b=b[:3])),
        ("no bias", conv(b=None)),
        ("stride", conv(stride=2)),
        ("padding", conv(padding=0)),
        ("dilation", conv(dilation=2)),
        ("groups", conv(x=xg, w=wg, b=bg, groups=2)),
        ("dtype", conv(x=x64, w=w64, b=b64)),
        ("strided x", conv(x=np.asfortranarray(x))),
        ("strided w", conv(w=w[:, :, ::-1, ::-1])),
        ("max pool", lambda: auto.max_pool2d_forward(x, 2)),
        ("avg pool", lambda: auto.avg_pool2d_forward(x, 2)),
        ("max pool stride", lambda: auto.max_pool2d_forward(x, 2, stride=1)),
        ("max pool padding", lambda: auto.max_pool2d_forward(x, 2, padding=1)),
        ("max pool kernel", lambda: auto.max_pool2d_forward(x, 3)),
        ("max pool dtype", lambda: auto.max_pool2d_forward(x64, 2)),
        ("max pool strided x", lambda: auto.max_pool2d_forward(np.asfortranarray(x), 2)),
    ]


VARIANTS = _variants()


@pytest.mark.parametrize("label, call", VARIANTS[1:], ids=[v[0] for v in VARIANTS[1:]])
def test_each_new_configuration_is_decided_once(monkeypatch, label, call):
    """Against the base configuration, a change of shape, parameters, bias, dtype,
    contiguity or operation makes a new decision (measured: every candidate runs again);
    repeating either configuration measures nothing."""
    fakes = Fakes(monkeypatch, {"slow": 2.0, "fast": 1.0})
    per_decision = 2 * 2 * (auto.REPEATS + 1)  # 2 candidates x (fwd + bwd) x runs
    base = VARIANTS[0][1]
    base()
    base_key = only_key()
    before = fakes.count()
    call()
    assert fakes.count() - before == per_decision + 1, f"{label}: not measured"
    keys = list(auto.decisions())
    assert len(keys) == 2 and keys[0] == base_key, f"{label}: no new decision"
    before = fakes.count()
    call()
    base()
    assert fakes.count() - before == 2, f"{label}: measured again"
    assert list(auto.decisions()) == keys
    assert all(d["backend"] == "fast" for d in auto.decisions().values())


def test_equivalent_spellings_share_a_decision(monkeypatch):
    """padding=1, (1, 1) and 'same' (3x3, stride 1), stride 1 and [1, 1], a contiguous copy of
    the arrays: the same computation, so one decision."""
    fakes = Fakes(monkeypatch, {"slow": 2.0, "fast": 1.0})
    x, w, b = conv_arrays(seed=0)
    auto.conv2d_forward(x, w, b, padding=1)
    measured = fakes.count()
    auto.conv2d_forward(x.copy(), w.copy(), b.copy(), padding=(1, 1))
    auto.conv2d_forward(x, w, b, padding="same", stride=[1, 1])
    auto.conv2d_forward(x, w, b, padding=[1, 1], dilation=(1, 1), groups=1)
    assert fakes.count() == measured + 3
    assert len(auto.decisions()) == 1


# ------------------------------------------------------------------ the fastest wins

@pytest.mark.parametrize("costs", [
    {"a": 1.0, "b": 2.0, "c": 3.0},
    {"a": 3.0, "b": 1.0, "c": 2.0},
    {"a": 3.0, "b": 2.0, "c": 1.0},
], ids=["fastest-first", "fastest-middle", "fastest-last"])
def test_winner_is_the_fastest_measured(monkeypatch, costs):
    """Fake clock: a call of a candidate costs exactly its cost, so one forward+backward
    costs 2 * cost, and the best of REPEATS timed runs is exactly that."""
    fakes = Fakes(monkeypatch, costs)
    fastest = min(costs, key=costs.get)
    x, w, b = conv_arrays(seed=6)
    y, cache = auto.conv2d_forward(x, w, b)
    assert auto.winner(cache) == fastest
    assert auto.decisions()[only_key()] == {
        "backend": fastest, "seconds": {name: 2 * cost for name, cost in costs.items()}}
    yp, cache_p = auto.max_pool2d_forward(x, 2)
    assert auto.winner(cache_p) == fastest
    assert fakes.count() > 0


def test_winner_is_the_fastest_on_the_real_clock(monkeypatch):
    """Real time.perf_counter: two candidates sleep 20 ms per call, one does not; the one
    that does not is chosen and its measured time is the smallest."""
    fakes = Fakes(monkeypatch, {"sleepy": 0.0, "quick": 0.0, "sleepier": 0.0},
                  sleeps={"sleepy": 0.02, "sleepier": 0.03}, fake_clock=False)
    x, w, b = conv_arrays(seed=7, N=1, C=2, H=5, W=5, F=2)
    y, cache = auto.conv2d_forward(x, w, b)
    assert auto.winner(cache) == "quick"
    seconds = auto.decisions()[only_key()]["seconds"]
    assert set(seconds) == {"sleepy", "quick", "sleepier"}
    assert seconds["quick"] == min(seconds.values())
    assert fakes.count("quick", "conv2d_forward") == auto.REPEATS + 2


# ------------------------------------------------------------------ backward follows forward

def _force(key, backend):
    auto._decisions[key] = backend


def _two_candidates_and_a_third():
    """Two different real candidates to force, and one that differs from the first (to
    switch a decision to after forward). With the current registry: strided, im2col, numba."""
    names = auto.candidates()
    assert len(names) >= 2, names
    first, second = names[-2], names[-1]
    return first, second, next(n for n in names if n != first)


def test_backward_uses_the_backend_that_ran_forward(monkeypatch):
    """Two configurations forced to different winners: each forward dispatches to its
    winner, each backward to the backend of *its* forward (interleaved, and even after the
    decision changes), and the results are that backend's own, bit for bit."""
    xa, wa, ba = conv_arrays(seed=8)
    xb, wb, bb = conv_arrays(seed=9, N=3, F=5)
    auto.conv2d_forward(xa, wa, ba, padding=1)
    key_a = only_key()
    auto.conv2d_forward(xb, wb, bb, stride=2)
    key_b = next(k for k in auto.decisions() if k != key_a)
    first, second, third = _two_candidates_and_a_third()
    _force(key_a, first)
    _force(key_b, second)

    requested = []
    real_get = auto.get_backend
    monkeypatch.setattr(auto, "get_backend", lambda n: requested.append(n) or real_get(n))
    ya, cache_a = auto.conv2d_forward(xa, wa, ba, padding=1)
    yb, cache_b = auto.conv2d_forward(xb, wb, bb, stride=2)
    assert (auto.winner(cache_a), auto.winner(cache_b)) == (first, second)
    assert requested == [first, second], "no measuring, straight to the forced winners"

    _force(key_a, third)  # a later decision must not redirect an existing cache
    dya = np.random.default_rng(10).standard_normal(ya.shape).astype(ya.dtype)
    dyb = np.random.default_rng(11).standard_normal(yb.shape).astype(yb.dtype)
    got_b = auto.conv2d_backward(dyb, cache_b)
    got_a = auto.conv2d_backward(dya, cache_a)
    assert requested[2:] == [second, first]

    for got, y, backend, (x, w, b), params, dy in [
            (got_a, ya, first, (xa, wa, ba), dict(padding=1), dya),
            (got_b, yb, second, (xb, wb, bb), dict(stride=2), dyb)]:
        own = kernels.get_backend(backend)
        y_own, cache_own = own.conv2d_forward(x, w, b, **params)
        np.testing.assert_array_equal(y, y_own, err_msg=f"{backend} y", strict=True)
        for name, g, o in zip(("dx", "dw", "db"), got, own.conv2d_backward(dy, cache_own)):
            np.testing.assert_array_equal(g, o, err_msg=f"{backend} {name}", strict=True)


def test_pool_backward_uses_the_backend_that_ran_forward(monkeypatch):
    x = np.random.default_rng(12).standard_normal((2, 3, 9, 8)).astype(np.float32)
    auto.max_pool2d_forward(x, 3, stride=2, padding=1)
    auto.avg_pool2d_forward(x, 3, stride=2, padding=1)
    keys = list(auto.decisions())
    first, second, third = _two_candidates_and_a_third()
    _force(keys[0], first)
    _force(keys[1], second)
    ym, cache_m = auto.max_pool2d_forward(x, 3, stride=2, padding=1)
    ya, cache_a = auto.avg_pool2d_forward(x, 3, stride=2, padding=1)
    _force(keys[0], third)
    _force(keys[1], first)
    assert (auto.winner(cache_m), auto.winner(cache_a)) == (first, second)
    dy = np.random.default_rng(13).standard_normal(ym.shape).astype(np.float32)
    for op, y, cache, name in (("avg", ya, cache_a, second), ("max", ym, cache_m, first)):
        own = kernels.get_backend(name)
        y_own, cache_own = getattr(own, f"{op}_pool2d_forward")(x, 3, stride=2, padding=1)
        np.testing.assert_array_equal(y, y_own, strict=True)
        np.testing.assert_array_equal(getattr(auto, f"{op}_pool2d_backward")(dy, cache),
                                      getattr(own, f"{op}_pool2d_backward")(dy, cache_own),
                                      strict=True)


# ------------------------------------------------------------------ persistent cache

@pytest.fixture
def cache_file(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "auto.json"
    path.parent.mkdir()
    monkeypatch.setenv("CONVBENCH_AUTO_CACHE", str(path))
    return path


def _decide_base(monkeypatch, costs=None):
    """One conv decision with fake candidates (fast wins); returns (fakes, key)."""
    fakes = Fakes(monkeypatch, costs or {"slow": 3.0, "fast": 1.0, "medium": 2.0})
    x, w, b = conv_arrays(seed=14)
    auto.conv2d_forward(x, w, b, padding=1)
    return fakes, only_key()


def _call_base():
    x, w, b = conv_arrays(seed=14)
    return auto.winner(auto.conv2d_forward(x, w, b, padding=1)[1])


def test_decision_is_written_atomically_as_json(cache_file, monkeypatch):
    fakes, key = _decide_base(monkeypatch)
    data = json.loads(cache_file.read_text())
    assert data == {auto._environment_key(): {key: "fast"}}
    auto.max_pool2d_forward(conv_arrays(seed=14)[0], 2)
    data = json.loads(cache_file.read_text())
    assert len(data[auto._environment_key()]) == 2
    assert os.listdir(cache_file.parent) == ["auto.json"], "no temporary file left behind"


def test_decisions_of_another_process_are_kept_when_writing(cache_file, monkeypatch):
    """Another process adds a decision to the file after this one loaded it: writing this
    process's new decision must merge with the file, not overwrite it from memory."""
    fakes, key = _decide_base(monkeypatch)
    env = auto._environment_key()
    data = json.loads(cache_file.read_text())
    data[env]["conv|written-by-another-process"] = "medium"
    cache_file.write_text(json.dumps(data))
    auto.max_pool2d_forward(conv_arrays(seed=14)[0], 2)  # a new decision, written now
    entries = json.loads(cache_file.read_text())[env]
    assert entries["conv|written-by-another-process"] == "medium"
    assert entries[key] == "fast" and len(entries) == 3


def test_environment_key_names_machine_versions_and_code():
    key = auto._environment_key()
    for part in ("cpus=", "threads=", "numpy=", "numba=", "code="):
        assert part in key


def test_fresh_process_reads_the_decision_without_measuring(cache_file, monkeypatch):
    """A new process (state reset) takes the cached winner - here edited to name 'medium',
    which measuring would never pick - without running any candidate; decisions() reports
    it without seconds."""
    fakes, key = _decide_base(monkeypatch)
    env = auto._environment_key()
    cache_file.write_text(json.dumps({env: {key: "medium"}}))
    reset_state(monkeypatch)
    before = fakes.count()
    assert _call_base() == "medium"
    assert fakes.count() - before == 1  # the dispatched forward only
    assert auto.decisions() == {key: {"backend": "medium", "seconds": None}}


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b""],
                         ids=["truncated", "binary", "empty"])
def test_corrupt_cache_is_measured_again_and_rewritten(cache_file, monkeypatch, content):
    fakes, key = _decide_base(monkeypatch)
    cache_file.write_bytes(content)
    reset_state(monkeypatch)
    before = fakes.count()
    assert _call_base() == "fast"
    assert fakes.count() - before > 1, "a corrupt cache must cost a measurement"
    assert json.loads(cache_file.read_text()) == {auto._environment_key(): {key: "fast"}}


@pytest.mark.parametrize("named", ["winograd", "naive", "auto", None, 3])
def test_cache_entry_naming_a_non_candidate_is_ignored(cache_file, monkeypatch, named):
    """An unknown backend, naive or auto itself (never candidates), or not a name at all:
    measured again, and the entry is replaced by the measured winner."""
    fakes, key = _decide_base(monkeypatch)
    env = auto._environment_key()
    cache_file.write_text(json.dumps({env: {key: named}}))
    reset_state(monkeypatch)
    before = fakes.count()
    assert _call_base() == "fast"
    assert fakes.count() - before > 1
    assert "naive" not in fakes.requested and "auto" not in fakes.requested
    assert json.loads(cache_file.read_text()) == {env: {key: "fast"}}


def test_other_environments_are_neither_used_nor_lost(cache_file, monkeypatch):
    """An entry measured on another machine / with other versions is not reused, and stays
    in the file when this environment's decision is added."""
    fakes, key = _decide_base(monkeypatch)
    env = auto._environment_key()
    other = {"elsewhere|x86_64|cpus=64": {key: "medium"}}
    cache_file.write_text(json.dumps(other))
    reset_state(monkeypatch)
    before = fakes.count()
    assert _call_base() == "fast"
    assert fakes.count() - before > 1
    assert json.loads(cache_file.read_text()) == {**other, env: {key: "fast"}}


@pytest.mark.parametrize("content", ["[]", "null", '"text"', "ENV-LIST"])
def test_cache_of_the_wrong_shape_is_ignored(cache_file, monkeypatch, content):
    fakes, key = _decide_base(monkeypatch)
    if content == "ENV-LIST":
        content = json.dumps({auto._environment_key(): ["fast"]})
    cache_file.write_text(content)
    reset_state(monkeypatch)
    assert _call_base() == "fast"
    assert json.loads(cache_file.read_text())[auto._environment_key()] == {key: "fast"}


def test_cache_setting_1_uses_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_AUTO_CACHE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fakes, key = _decide_base(monkeypatch)
    path = tmp_path / "xdg" / "convbench" / "auto.json"
    assert json.loads(path.read_text()) == {auto._environment_key(): {key: "fast"}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["auto.json"]
    assert not (tmp_path / "home").exists()


def test_cache_setting_1_without_xdg_uses_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_AUTO_CACHE", "1")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    fakes, key = _decide_base(monkeypatch)
    path = tmp_path / ".cache" / "convbench" / "auto.json"
    assert json.loads(path.read_text()) == {auto._environment_key(): {key: "fast"}}


@pytest.mark.parametrize("setting", [None, "", "0"], ids=["unset", "empty", "zero"])
def test_no_cache_setting_writes_nothing(tmp_path, monkeypatch, setting):
    if setting is not None:
        monkeypatch.setenv("CONVBENCH_AUTO_CACHE", setting)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def no_write(*args, **kwargs):
        raise AssertionError("auto wrote a cache file without CONVBENCH_AUTO_CACHE")
    monkeypatch.setattr(auto.store, "atomic_write", no_write)
    _decide_base(monkeypatch)
    assert auto.decisions()[only_key()]["backend"] == "fast"
    assert list(tmp_path.iterdir()) == []


def test_environment_key_does_not_depend_on_import_order(tmp_path):
    """Fresh interpreter, NUMBA_NUM_THREADS=1 on a machine with more cores (set to cpus+1
    when there is one core): a decision written by one process must be read by the next one
    without measuring."""
    threads = 1 if (os.cpu_count() or 1) > 1 else 2
    code = ("import numpy as np, kernels.backends.auto as auto\n"
            "x = np.ones((1, 1, 5, 5)); w = np.ones((1, 1, 3, 3))\n"
            "auto.conv2d_forward(x, w)\n"
            "print(list(auto.decisions().values())[0]['seconds'] is None)\n")
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads),
               CONVBENCH_AUTO_CACHE=str(tmp_path / "auto.json"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs == [["False"], ["True"]], "the second process should reuse the decision"


# ------------------------------------------------------------------ errors

def _x(shape=(2, 2, 5, 5), dtype=np.float64):
    return np.random.default_rng(15).standard_normal(shape).astype(dtype)


ERROR_CALLS = [
    pytest.param(lambda be: be.conv2d_forward(_x((2, 5, 5)), _x((3, 2, 3, 3))), id="x-3d"),
    pytest.param(lambda be: be.conv2d_forward(_x(), _x((3, 3, 3, 3))), id="channel-mismatch"),
    pytest.param(lambda be: be.conv2d_forward(_x(), _x((3, 2, 3, 3)), stride=0), id="stride-0"),
    pytest.param(lambda be: be.conv2d_forward(_x(), _x((3, 2, 3, 3)), groups=1.0),
                 id="groups-float"),
    pytest.param(lambda be: be.conv2d_forward(_x().astype(np.int64), _x((3, 2, 3, 3))),
                 id="x-int"),
    pytest.param(lambda be: be.conv2d_forward(_x(), _x((3, 2, 3, 3), np.float32)),
                 id="mixed-dtypes"),
    pytest.param(lambda be: be.conv2d_forward(_x(), _x((3, 2, 3, 3)), padding="same",
                                              stride=2), id="same-with-stride"),
    pytest.param(lambda be: be.conv2d_forward(_x((1, 2, 2, 2)), _x((3, 2, 5, 5))),
                 id="kernel-larger"),
    pytest.param(lambda be: be.max_pool2d_forward(_x(), 2, padding=2), id="pool-padding"),
    pytest.param(lambda be: be.avg_pool2d_forward(_x(), 0), id="pool-kernel-0"),
    pytest.param(lambda be: be.max_pool2d_forward([[1.0]], 2), id="pool-not-array"),
]


def _error(call, backend):
    with pytest.raises((TypeError, ValueError)) as info:
        call(backend)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("call", ERROR_CALLS)
def test_errors_are_the_shared_validation_errors(monkeypatch, call):
    """Bad arguments raise naive's exception (same type, same message) before anything is
    measured or remembered."""
    fakes = Fakes(monkeypatch, {"one": 1.0, "two": 2.0})
    assert _error(call, auto) == _error(call, NAIVE)
    assert fakes.count() == 0 and auto.decisions() == {}


@pytest.mark.parametrize("dy_kind", ["shape", "dtype", "list"])
def test_backward_errors_are_the_shared_validation_errors(dy_kind):
    x, w, b = conv_arrays(seed=16, dtype=np.float64)
    y, cache = auto.conv2d_forward(x, w, b)
    _, cache_naive = NAIVE.conv2d_forward(x, w, b)
    dy = {"shape": np.ones(y.shape[:-1] + (y.shape[-1] + 1,)),
          "dtype": np.ones(y.shape, np.float32), "list": y.tolist()}[dy_kind]
    with pytest.raises((TypeError, ValueError)) as got:
        auto.conv2d_backward(dy, cache)
    with pytest.raises((TypeError, ValueError)) as ref:
        NAIVE.conv2d_backward(dy, cache_naive)
    assert (type(got.value), str(got.value)) == (type(ref.value), str(ref.value))
