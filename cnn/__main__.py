"""python -m cnn {train,evaluate,predict} ..., and the same command line installed by pip as
`convbench-cnn`: the process settings both need, then cnn.cli."""
import os
import signal
import sys


def main(prog="python -m cnn"):
    # OpenBLAS's idle threads spin ~0.1 s after each GEMM and take a core from the Numba and
    # NumPy work between two GEMMs (measured: the auto convnet step 27 -> 23 ms). Set before
    # NumPy loads OpenBLAS; a user's own setting wins.
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    if hasattr(signal, "SIGPIPE"):  # `... | head` ends the output quietly, as other tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from .cli import main as run  # after the environment it depends on

    code = run(prog=prog)
    if code == 130:  # Ctrl-C: exit 130 as said, never CPython's re-raised SIGINT
        from kernels.support import runtime

        runtime.exit_interrupted()
    return code


def installed_script():
    """`convbench-cnn`: pip's script for the whole `python -m cnn` command line."""
    return main(prog="convbench-cnn")


if __name__ == "__main__":
    sys.exit(main())
