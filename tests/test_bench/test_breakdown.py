"""kernels.bench.measuring.breakdown: a training step split into components that add up to the step,
for our CNN and PyTorch's twin, and peak memory measured in a fresh process."""

from __future__ import annotations

import pytest

from kernels.bench.measuring import breakdown


def _check(parts):
    assert set(parts) == {*breakdown.COMPONENTS, "total"}
    assert all(parts[c] >= 0 for c in breakdown.COMPONENTS if c != "other")
    # 'other' is what no timer covered, by construction the rest of each step: less than
    # the step itself (each figure is a median over the steps, so they need not add up).
    assert parts["other"] < parts["total"]
    for layer in ("conv", "pool", "dense"):
        assert parts[f"{layer} forward"] > 0 and parts[f"{layer} backward"] > 0


@pytest.mark.parametrize("arch", ["tiny", "lenet5"])
def test_our_step_by_component(arch):
    parts = breakdown.ours(arch, "im2col", steps=3, batch=8)
    _check(parts)
    assert parts["data"] > 0 and parts["update"] > 0 and parts["loss"] > 0


@pytest.mark.frameworks
def test_pytorch_twin_by_component():
    pytest.importorskip("torch")
    _check(breakdown.torch_twin("tiny", steps=3, batch=8))


def test_peak_memory_is_measured_in_a_fresh_process():
    """The probe's number is its own: a parent holding 800 MB does not raise it (Linux's
    ru_maxrss would)."""
    import numpy as np

    ballast = np.ones(10**8)  # noqa: F841  (800 MB in this process)
    peak = breakdown.peak_memory("tiny", "im2col", threads=1, steps=2)
    assert 20 * 2**20 < peak < 700 * 2**20


def test_the_memory_probe_is_a_module_refusing_a_wrong_call_in_one_line():
    """`python -m kernels.bench.measuring.memory_probe ARCH BACKEND STEPS THREADS`, as
    peak_memory runs it; anything else is its usage line and exit 2, not a traceback."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kernels.bench.measuring.memory_probe", "tiny",
                           "im2col", "two", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(
        "usage: python -m kernels.bench.measuring.memory_probe ARCH BACKEND")
    assert len(done.stderr.strip().splitlines()) == 1
