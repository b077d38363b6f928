"""python -m cnn {train,evaluate,predict} ...: see cnn.cli."""
import os
import signal
import sys

# OpenBLAS's idle threads spin ~0.1 s after each GEMM and take a core from the Numba and NumPy
# work between two GEMMs (measured: the auto convnet step 27 -> 23 ms). Set before NumPy loads
# OpenBLAS; a user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .cli import main  # noqa: E402  (after the environment it depends on)

if hasattr(signal, "SIGPIPE"):  # `... | head` ends the output quietly, as other tools do
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

sys.exit(main())
