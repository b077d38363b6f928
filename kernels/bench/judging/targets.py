"""The speed, accuracy and memory targets: a list of rows (label, how to read the figure
from a report, limit), checked against one report of `python -m kernels bench` by one
function. The readers are in kernels.bench.judging.readers.

Every figure is a ratio of two numbers measured in the same process and run, never an
absolute time. A figure that was not measured (no PyTorch, a section or a set not run) is
reported as such, not as a pass. The targets are set for float32 at each case's own batch
size, and a target about every case of a set needs the whole set: a run that differs (a
float64 report, `--batch 8`, `--cases std.1x1`) gets "not applicable" (met None), never a
verdict on other data. A verdict measured while the machine was busy (kernels.bench.measuring.load)
says so (`busy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...cases import CONV_CASES, POOL_CASES
from . import readers as r
from . import shares

DTYPE = "float32"  # the dtype every target is set for

MNIST_CONVS = [n for n, c in CONV_CASES.items() if c.mnist]
# Backends with a workspace cap are checked on the layers we train and on the one standard
# case big enough to need several chunks.
WORKSPACE_CAP_CASES = (*MNIST_CONVS, "std.3x3x64")
FAST_ALGORITHMS = ("winograd2x2", "winograd4x4", "fft")
SETS = ("mnist", "std", "resnet50", "vgg16", "mobilenet", "deepbench", "large")
BLOCKED_SETS = ("mnist", "std", "resnet50", "mobilenet")  # issue 16's sets for blocked
GROUPED_CASES = ("std.depthwise", "std.grouped")  # the standard cases with groups > 1
BUSY_NOTE = "not judged: the machine was busy while its figures were measured"


@dataclass(frozen=True)
class Target:
    label: str
    read: Callable[[dict], tuple]  # report -> (value, note), value None if not measured
    limit: float
    higher_is_better: bool = False
    unit: str = "x"  # "x": a ratio; "%": a share
    section: str = "conv"  # the report section whose measurements decide it
    needs: tuple = ()  # cases that must all have been measured (a target on a whole set)

    def not_applicable(self, report) -> str | None:
        """Why this run's data cannot judge the target, or None."""
        settings = report.get("settings") or {}
        dtype = settings.get("dtype", report.get("environment", {}).get("dtype"))
        if dtype is not None and dtype != DTYPE:
            return f"not applicable: set for {DTYPE}, this run is {dtype}"
        if settings.get("batch") is not None:
            return f"not applicable: set for each case's own batch, this run used --batch " \
                   f"{settings['batch']}"
        measured = {c["name"] for c in report.get("cases", [])}
        if self.needs and measured and (missing := [n for n in self.needs
                                                    if n not in measured]):
            if any(n in measured for n in self.needs):  # part of the set: not the set
                return f"not applicable: {len(missing)} of its {len(self.needs)} cases " \
                       f"not run (e.g. {missing[0]})"
        return None

    def check(self, report) -> dict:
        busy = (report.get("sections") or {}).get(self.section, {}).get("busy")
        if reason := self.not_applicable(report):
            return dict(target=self.label, measured=None, limit=self.limit, unit=self.unit,
                        met=None, note=reason, applicable=False, busy=busy)
        value, note = self.read(report)
        met = None if value is None else (
            value >= self.limit if self.higher_is_better else value <= self.limit)
        if met and busy:  # a loaded machine slows contenders unevenly: never a pass
            met, note = None, f"{BUSY_NOTE} ({note})" if note else BUSY_NOTE
        return dict(target=self.label, measured=value, limit=self.limit, unit=self.unit,
                    met=met, note=note, applicable=True, busy=busy if value is not None
                    else None)


def _conv_set(name):
    return tuple(n for n, c in CONV_CASES.items() if c.set == name)


TARGETS = [
    # Winograd and FFT (the fast algorithms)
    Target("convnet.conv2 fwd+bwd: best of Winograd/FFT <= 1.0x PyTorch",
           r.best_vs_torch("convnet.conv2", among=FAST_ALGORITHMS), 1.0),
    Target("std.3x3x64: direct-equivalent GF/s >= 1.0x the GEMM rate",
           r.gemm_equivalent_rate("std.3x3x64"), 1.0, higher_is_better=True),
    Target("FFT beats every other algorithm on some large-kernel case",
           r.fastest_on_some_case("fft", "large"), 1.0),
    Target("winograd2x2 error <= 4x im2col's on every case", r.worst_error_ratio("winograd2x2"),
           4.0),
    Target("winograd4x4 error <= 10x im2col's on every case",
           r.worst_error_ratio("winograd4x4"), 10.0),
    # Normwise: an FFT spreads rounding over whole planes, into outputs that are exactly 0
    # (a strided 1x1's dx), where a componentwise ratio is infinite (kernels.backends.fft).
    Target("fft normwise error <= 4x im2col's on every case",
           r.worst_error_ratio("fft", key="error_normwise"), 4.0),
    *[Target(f"{b} workspace on the MNIST layers <= 64 MiB", r.worst_workspace(b, "mnist"),
             1.0, unit="%", needs=_conv_set("mnist")) for b in FAST_ALGORITHMS],
    # whole models
    # Issue 16's epoch target (a default `cnn train` epoch <= PyTorch's step x 938) is this
    # row: the default run is convnet, batch 64, auto, and 938 x both steps is the same
    # ratio. The report times steps, not epochs: data handling is not in it.
    Target("convnet training step, auto <= 1.0x PyTorch (1.2x with Winograd/FFT alone; "
           "x 938: a default cnn train epoch's steps)",
           r.model_vs_torch("train_steps", "convnet", "step", "auto"), 1.0, section="train"),
    *[Target(f"{arch} training step, auto <= 1.0x PyTorch",
             r.model_vs_torch("train_steps", arch, "step", "auto"), 1.0, section="train")
      for arch in ("lenet5", "tiny")],
    *[Target(f"{arch} evaluation of 10k images <= 1.0x PyTorch",
             r.model_vs_torch("evaluate", arch, "evaluate"), 1.0, section="eval")
      for arch in ("convnet", "lenet5", "tiny")],
    Target("auto training step <= 1.1x the best single backend",
           r.dispatcher_step_vs_best("convnet"), 1.1, section="train"),
    Target("convnet step computing conv1's dx / skipping it >= 1.0x (the saving)",
           r.first_layer_dx_saving("convnet"), 1.0, higher_is_better=True, section="train"),
    Target("peak memory of a convnet training run <= 2x PyTorch's, every backend",
           r.worst_memory_vs_torch(), 2.0, section="memory"),
    # every layer
    *[Target(f"every {s} conv case, best backend <= 1.5x PyTorch",
             r.worst_best_vs_torch("conv", s), 1.5, needs=_conv_set(s)) for s in SETS],
    Target("every pool case, best backend <= 1.0x PyTorch", r.worst_best_vs_torch("pool"), 1.0,
           section="pool", needs=tuple(POOL_CASES)),
    *[Target(f"numba within 2x of the best on every {s} case",
             r.worst_backend_vs_best("numba", s), 2.0, needs=_conv_set(s)) for s in SETS],
    # the channel-blocked direct kernel (issue 16)
    *[Target(f"blocked within 1.5x of the best on every {s} conv case",
             r.worst_backend_vs_best("blocked", s, kind="conv"), 1.5, needs=_conv_set(s))
      for s in BLOCKED_SETS],
    Target("convnet.conv2 fwd+bwd: best backend <= 1.2x PyTorch",
           r.best_vs_torch("convnet.conv2"), 1.2),
    *[Target(f"{name} fwd+bwd: best backend <= 1.5x PyTorch", r.best_vs_torch(name), 1.5)
      for name in GROUPED_CASES],
    Target("roofline: blocked's best case >= 50 % of the measured peak",
           shares.best_share_of_peak("blocked"), 0.5, higher_is_better=True, unit="%"),
    Target("std.3x3x64: blocked's forward >= 70 % of the measured peak",
           shares.pass_share_of_peak("blocked", "std.3x3x64", "forward"), 0.7,
           higher_is_better=True, unit="%"),
    Target("std.3x3x64: each of blocked's three passes >= 60 % of the measured peak",
           shares.pass_share_of_peak("blocked", "std.3x3x64"), 0.6, higher_is_better=True,
           unit="%"),
    Target("ladder: best >= 1000x naive on convnet.conv2 backward",
           r.best_backward_over_reference("convnet.conv2"), 1000, higher_is_better=True),
    Target("im2col under the cap on std.3x3x64: slowdown <= 1.1x",
           r.capped_slowdown("im2col", "std.3x3x64"), 1.1),
]


def check(report, targets=TARGETS) -> list[dict]:
    """One row per target, in the order above."""
    return [target.check(report) for target in targets]
