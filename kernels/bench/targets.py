"""The speed targets: a list of rows (label, how to read the figure from a report, limit),
checked against one report of `python -m kernels bench` by one function.

Every figure is a ratio of two numbers measured in the same process and run, never an
absolute time. "Best" is the fastest registered algorithm (`kernels.available(ALGORITHM)`):
not the reference, not a dispatcher. A figure that was not measured (no PyTorch, a section
not run) is reported as such, not as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import ALGORITHM, DISPATCHER, REFERENCE, available
from ..cases import CONV_CASES, POOL_CASES

MNIST_CONVS = [n for n, c in CONV_CASES.items() if c.mnist]
# im2col's workspace cap is checked on the layers we train and on the one standard case
# big enough to need several chunks.
WORKSPACE_CAP_CASES = (*MNIST_CONVS, "std.3x3x64")

Reading = tuple  # (value or None, note)


@dataclass(frozen=True)
class Target:
    label: str
    read: Callable[[dict], Reading]  # the figure in a report, or None and why it is missing
    limit: float
    higher_is_better: bool = False
    unit: str = "x"  # "x": a ratio; "%": a share

    def check(self, report) -> dict:
        value, note = self.read(report)
        met = None if value is None else (
            value >= self.limit if self.higher_is_better else value <= self.limit)
        return dict(target=self.label, measured=value, limit=self.limit, unit=self.unit,
                    met=met, note=note)


# ------------------------------------------------------------------ reading a report

def total(result) -> float:
    """Forward + backward seconds of one backend on one case (all its passes)."""
    return forward(result) + backward(result)


def forward(result) -> float:
    return result["forward"]["median"]


def backward(result) -> float:
    """Backward-data plus, for a convolution, backward-weights."""
    return result["backward_data"]["median"] + \
        result.get("backward_weights", {"median": 0.0})["median"]


def _entry(report, section, name):
    return next((e for e in report.get(section, []) if e["name"] == name), None)


def _best(results, seconds=total):
    """(name, seconds) of the fastest algorithm among `results`, or (None, None)."""
    timed = {b: seconds(r) for b, r in results.items() if b in available(ALGORITHM)}
    if not timed:
        return None, None
    name = min(timed, key=timed.get)
    return name, timed[name]


def _results(report, name, *needed):
    """A case's results, if they hold every backend in `needed`."""
    case = _entry(report, "cases", name)
    if case is None:
        return None
    return case["results"] if all(b in case["results"] for b in needed) else None


def best_vs_torch(name):
    def read(report):
        results = _results(report, name, "torch")
        if results is None:
            return None, "not measured"
        best, seconds = _best(results)
        if best is None:
            return None, "no algorithm timed"
        return seconds / total(results["torch"]), f"best: {best}"
    return read


def backend_vs_best(backend, name):
    def read(report):
        results = _results(report, name, backend)
        if results is None:
            return None, "not measured"
        best, seconds = _best(results)
        return total(results[backend]) / seconds, f"best: {best}"
    return read


def conv_forward_share_of_gemm(name):
    def read(report):
        results = _results(report, name)
        best, _ = _best(results or {}, forward)
        if best is None:
            return None, "not measured"
        rate = results[best].get("forward_gflops")
        if rate is None:  # a case without FLOPs (pooling)
            return None, "no FLOPs to count"
        peak = report["gemm"][report["environment"]["dtype"]]["gflops"]
        return rate / peak, f"{best}: {rate:.1f} GF/s"
    return read


def backward_over_forward(name):
    def read(report):
        results = _results(report, name) or {}
        fastest_forward, f_seconds = _best(results, forward)
        fastest_backward, b_seconds = _best(results, backward)
        if fastest_forward is None:
            return None, "not measured"
        return b_seconds / f_seconds, \
            f"backward {fastest_backward} / forward {fastest_forward}"
    return read


def best_backward_over_reference(name):
    def read(report):
        reference = available(REFERENCE)[0]
        results = _results(report, name, reference)
        best, seconds = _best(results or {}, backward)
        if best is None:
            return None, "not measured"
        slow = results[reference]
        return backward(slow) / seconds, slow.get("note") or f"best: {best}"
    return read


def _model_results(report, section, arch):
    entry = next((e for e in report.get(section, []) if e["arch"] == arch), None)
    return None if entry is None else entry["results"]


def fastest_model_vs_torch(section, arch, key):
    def read(report):
        results = _model_results(report, section, arch)
        ours = {b: r[key]["median"] for b, r in (results or {}).items() if b != "torch"}
        if not ours or "torch" not in results:
            return None, "not measured"
        fastest = min(ours, key=ours.get)
        return ours[fastest] / results["torch"][key]["median"], f"fastest: {fastest}"
    return read


def dispatcher_step_vs_best(arch):
    def read(report):
        results = _model_results(report, "train_steps", arch) or {}
        dispatcher = next((b for b in available(DISPATCHER) if b in results), None)
        best, seconds = _best(results, lambda r: r["step"]["median"])
        if dispatcher is None or best is None:
            return None, "not measured"
        return results[dispatcher]["step"]["median"] / seconds, \
            f"{dispatcher} / best single: {best}"
    return read


def _cap(report, backend, name):
    return next((c for c in report.get("workspace_cap", [])
                 if c["case"] == name and c["backend"] == backend), None)


def workspace_share_of_cap(backend, name):
    def read(report):
        cap = _cap(report, backend, name)
        if cap is None:
            return None, "not measured"
        workspace = cap["peak_bytes"] - cap["padded_bytes"]
        chunks = cap["chunks"]
        note = (f"{workspace / 2**20:.1f} MiB (+ {cap['padded_bytes'] / 2**20:.1f} MiB padded "
                f"x, dx) in {chunks} chunk" + "s" * (chunks > 1))
        return workspace / cap["cap_bytes"], note
    return read


def capped_slowdown(backend, name):
    def read(report):
        cap = _cap(report, backend, name)
        if cap is None:
            return None, "not measured"
        if cap["slowdown"] is None:
            return None, "one chunk: the cap changes nothing"
        return cap["slowdown"], f"{cap['chunks']} chunks against none"
    return read


# ------------------------------------------------------------------ the targets

TARGETS = [
    *[Target(f"{n} fwd+bwd <= 1.5x PyTorch (stretch 1.0x)", best_vs_torch(n), 1.5)
      for n in MNIST_CONVS],
    Target("convnet training step <= 1.5x PyTorch (stretch 1.0x)",
           fastest_model_vs_torch("train_steps", "convnet", "step"), 1.5),
    Target("auto training step <= 1.1x the best single backend",
           dispatcher_step_vs_best("convnet"), 1.1),
    Target("convnet evaluation of 10k images <= 1.5x PyTorch (stretch 1.0x)",
           fastest_model_vs_torch("evaluate", "convnet", "evaluate"), 1.5),
    Target("convnet.conv2 forward >= 50 % of the GEMM rate",
           conv_forward_share_of_gemm("convnet.conv2"), 0.5, higher_is_better=True, unit="%"),
    Target("convnet.conv2 backward <= 2.5x its forward", backward_over_forward("convnet.conv2"),
           2.5),
    Target("ladder: best >= 1000x naive on convnet.conv2 backward",
           best_backward_over_reference("convnet.conv2"), 1000, higher_is_better=True),
    *[Target(f"numba within 2x of the best on {n}", backend_vs_best("numba", n), 2.0)
      for n in [*MNIST_CONVS, *POOL_CASES]],
    *[Target(f"{n} (2x2 max pool) fwd+bwd <= 1.5x PyTorch", best_vs_torch(n), 1.5)
      for n in ("convnet.pool1", "convnet.pool2")],
    *[Target(f"im2col workspace on {n} within the 64 MiB cap",
             workspace_share_of_cap("im2col", n), 1.0, unit="%") for n in WORKSPACE_CAP_CASES],
    Target("im2col under the cap on std.3x3x64: slowdown <= 1.1x",
           capped_slowdown("im2col", "std.3x3x64"), 1.1),
]


def check(report, targets=TARGETS) -> list[dict]:
    """One row per target, in the order above."""
    return [target.check(report) for target in targets]
