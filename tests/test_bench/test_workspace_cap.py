"""The 64 MiB workspace cap on the layers of real networks (issue 17, finding 10): fft's
one-image planes and weight spectra, im2col's one-image columns and strided's window copies
can exceed it (ResNet-50's 1x1 layers: fft up to 3.8 GiB); auto never tries a candidate whose
own estimate breaks its cap. Checked with the backends' estimate functions on every conv
case, not by running huge convolutions; the fft estimate is checked against a measurement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kernels
import kernels.backends.auto as auto
from kernels.bench.measuring.instruments import workspace_bytes
from kernels.cases import CONV_CASES, sets


def _cap(name):
    return kernels.capabilities(name).workspace_cap


@pytest.mark.parametrize("case_set", ["resnet50", "vgg16", "mobilenet", "deepbench", "large",
                                      "std", "mnist"])
def test_auto_tries_only_candidates_within_their_cap(case_set):
    for name in sets()[case_set]:
        if name not in CONV_CASES:
            continue
        geo = CONV_CASES[name].geometry()
        tried = auto._tried(geo)
        assert tried, name
        for candidate in tried:
            estimate = getattr(kernels.get_backend(candidate), "workspace_estimate", None)
            if estimate is not None:
                assert estimate(geo) <= _cap(candidate), (name, candidate)


def test_fft_breaks_the_cap_on_resnet50_and_is_not_tried_there():
    fft = kernels.get_backend("fft")
    geo = CONV_CASES["resnet50.res4a_branch1"].geometry()
    assert fft.workspace_estimate(geo) > 2**30 and "fft" not in auto._tried(geo)


@pytest.mark.parametrize("name", ["tiny.conv", "lenet5.c3", "std.strided"])
def test_the_fft_estimate_bounds_the_measured_workspace(name):
    fft = kernels.get_backend("fft")
    case = CONV_CASES[name]
    x, w, b, dy = case.arrays(np.float32)

    def both():
        y, cache = fft.conv2d_forward(x, w, b, **case.params())
        return (y, *fft.conv2d_backward(dy, cache))
    assert workspace_bytes(both) <= fft.workspace_estimate(case.geometry())


def test_a_candidate_over_its_cap_is_not_measured(monkeypatch):
    # Capabilities are read once, when a backend loads: change the record the registry holds.
    entry = kernels.plugins.find("im2col")
    monkeypatch.setattr(entry, "capabilities", dataclasses.replace(
        kernels.capabilities("im2col"), workspace_estimate=lambda geo: 2**40))
    monkeypatch.setattr(auto, "_decisions", {})
    monkeypatch.setattr(auto, "_timings", {})
    monkeypatch.delenv("CONVBENCH_AUTO_CACHE", raising=False)
    case = CONV_CASES["tiny.conv"]
    x, w, b, _ = case.arrays(np.float32)
    auto.conv2d_forward(x[:2], w, b, **case.params())
    (decision,) = auto.decisions().values()
    assert "im2col" not in decision["seconds"] and decision["backend"] != "im2col"
