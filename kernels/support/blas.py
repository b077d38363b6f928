"""BLAS on one thread for a pass whose GEMM calls are too small to share between threads.

Algorithms that issue many small GEMMs (fft: one per frequency; winograd: one per transform
position) pay OpenBLAS's thread hand-off on every call. On a quiet machine that costs little,
but with another job on the other core each hand-off can wait a scheduler tick for a core:
convnet.conv2's forward took 2,386 ms (fft) and 580 ms (winograd4x4) with 2 BLAS threads
against 16 and 6 ms with one (issue 23). So each GEMM-based backend declares, as a setting of
its own, `BLAS_ONE_THREAD_BELOW`: the flops of one GEMM call (its `gemm_flops(geo)`) below
which it runs the whole pass with BLAS on one thread. The measurements behind each figure are
in docs/backends.md ("BLAS threads").

`one_thread()` is entered once per pass, not per GEMM: it reads and sets the thread count of
NumPy's BLAS through threadpoolctl's library handles, found once and cached
(threadpool_limits() looks the libraries up again on every call: 0.27 ms here, against ~3 us
for the handles). It only ever lowers a count and restores exactly what it found, so it
never exceeds what the program pinned. Without threadpoolctl (an extra, not a runtime
dependency) it does nothing, and `status()` says so.

The count is process-wide: two Python threads running passes at once would restore each
other's counts out of order. The backends' passes run on one Python thread here.
"""

from __future__ import annotations

import contextlib

_libraries: list | None = None  # threadpoolctl's BLAS handles, found on first use


def libraries() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries ([] without threadpoolctl),
    looked up once per process."""
    global _libraries
    if _libraries is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _libraries = []
        else:
            import numpy  # noqa: F401  (loads the BLAS: threadpoolctl only sees loaded libraries)

            _libraries = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libraries


def status() -> str:
    """One line for the environment: whether passes can limit BLAS threads, and through what."""
    found = libraries()
    if not found:
        try:
            import threadpoolctl  # noqa: F401
        except ImportError:
            return "threadpoolctl not installed: BLAS threads not limited per pass"
        return "no BLAS library found: BLAS threads not limited per pass"
    names = ", ".join(sorted({str(lib.internal_api) for lib in found}))
    return f"one BLAS thread below each algorithm's BLAS_ONE_THREAD_BELOW ({names})"


@contextlib.contextmanager
def one_thread():
    """BLAS on one thread inside the block; every library's previous count after it."""
    lowered = []
    try:
        for lib in libraries():
            count = lib.get_num_threads()
            if count is not None and count > 1:
                lib.set_num_threads(1)
                lowered.append((lib, count))
        yield
    finally:
        for lib, count in reversed(lowered):
            lib.set_num_threads(count)


def gemm_threads(flops_per_call: int, one_thread_below: int | None):
    """The context a pass runs in: one_thread() when its GEMM calls do fewer than
    `one_thread_below` flops each, else BLAS as pinned. None or 0 never limits."""
    if one_thread_below and flops_per_call < one_thread_below:
        return one_thread()
    return contextlib.nullcontext()
