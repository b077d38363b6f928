"""python -m kernels COMMAND [options]: the measurement commands (kernels.bench)."""

import importlib
import os
import signal
import sys

if hasattr(signal, "SIGPIPE"):  # `... | head` ends the output quietly, as other tools do
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

COMMANDS = {  # name -> (module with main(argv), what it does)
    "bench": ("kernels.bench.cli", "every backend side by side, against PyTorch and the "
                                   "GEMM rate"),
    "map": ("kernels.bench.algorithm_map", "which algorithm wins where: kernel size x "
                                           "channels x image size"),
    "merge": ("kernels.bench.merge", "join the --json files of a sharded bench or map run"),
    "fleet": ("kernels.bench.fleet", "a sharded bench or map run on a Slurm array (submitit), "
                                     "merged"),
    "machine": ("kernels.bench.fingerprint", "this machine's fingerprint: ISA, vector width, "
                                             "measured FMA peak and clock, bandwidth"),
    "list": ("kernels.listing", "every backend: role, origin, passes, and why one is unavailable"),
    "verify": ("kernels.conformance.verify", "the conformance suite against one backend "
                                             "(needs the [verify] extra)"),
    "asv-offline": ("kernels.bench.asv_site", "make `asv publish`'s site viewable without "
                                              "internet access"),
}
USAGE = "usage: python -m kernels {" + ",".join(COMMANDS) + "} [options]\n" + "".join(
    f"  {name:12} {what}\n" for name, (_, what) in COMMANDS.items()) + \
    "(python -m kernels COMMAND --help for its options)"

if sys.argv[1:2] in (["-h"], ["--help"]):
    print(USAGE)
    sys.exit(0)
if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
    if len(sys.argv) >= 2:  # say what was wrong before the list of what is right
        print(f"python -m kernels: error: unknown command {sys.argv[1]!r}", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(2)
# OpenBLAS's idle threads spin for ~0.1 s after each GEMM and take a core from whatever runs
# next - a Numba kernel, or PyTorch measured right after a NumPy backend (measured: PyTorch
# 54 -> 100 ms on std.3x3x64). Sleeping at once keeps the comparison fair. It must be set
# before NumPy loads OpenBLAS; a user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
# PyTorch's OpenMP workers are left at the runtime's wait policy (a user's OMP_WAIT_POLICY
# wins, and the report records it): PASSIVE made PyTorch's small convolutions ~3x slower on
# a quiet machine (a 16-channel 3x3 layer at batch 4, forward + backward: 0.31 ms default,
# 0.9-1.2 ms passive), which would flatter every "x PyTorch" ratio. The contenders' turns
# come in settled blocks instead (kernels.bench.measuring.instruments.measure_alternated).
# Ctrl-C stops at once, even where a library would swallow the interrupt (JAX's loading).
from kernels.support import runtime  # noqa: E402  (light: the standard library only)

runtime.stop_on_interrupt(f"python -m kernels {sys.argv[1]}")
# Imported only now: a typo or --help costs nothing.
try:
    code = importlib.import_module(COMMANDS[sys.argv[1]][0]).main(sys.argv[2:])
except KeyboardInterrupt:  # Ctrl-C: one line and 130, as `python -m cnn`; outputs are
    # written atomically, so no partial file is left behind
    print(f"python -m kernels {sys.argv[1]}: interrupted", file=sys.stderr)
    code = 130
if code == 130:
    runtime.exit_interrupted()
sys.exit(code)
