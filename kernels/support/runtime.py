"""Process-wide settings for timing and training runs: thread counts and malloc behaviour.

Both are choices of the *program* (the `cnn` command line, `python -m kernels bench`), not of
the library: importing `kernels` changes neither. (The one process-wide default the library
does set is Numba's threading layer, in kernels.support.jit, and only when the user has
not.)

- Threads: BLAS (through threadpoolctl when installed), Numba and, when loaded, PyTorch get
  one thread count, recorded with every measurement.
- Memory: every layer of a training step allocates fresh arrays of several MB. By default
  glibc serves such sizes with mmap and returns them to the OS on free, so the next step
  page-faults the same memory back in, page by page. Raising M_MMAP_THRESHOLD to its
  maximum (32 MiB) and M_TRIM_THRESHOLD keeps freed blocks in the heap for reuse: measured
  ~10-15 % faster training steps for the NumPy backends here. It applies to every library in
  the process, PyTorch included, so comparisons made in one process stay fair.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import types
from pathlib import Path

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's ceiling on 64-bit systems


def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MiB for reuse; False where that is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 2**30))
    except (OSError, AttributeError):  # musl and friends: no mallopt
        return False


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


_pinned: int | None = None  # the count pin_threads set, for libraries it cannot reach


def pinned_threads() -> int | None:
    """The thread count a program pinned with pin_threads, or None (e.g. scipy.fft's
    workers follow it)."""
    return _pinned


def pin_threads(threads: int) -> dict:
    """Use `threads` threads in BLAS, Numba and PyTorch; returns what each one reports.

    Call it before the first Numba kernel runs: NUMBA_NUM_THREADS is read when Numba is
    imported, and numba.set_num_threads can only lower the count later.
    """
    global _pinned
    _pinned = threads
    info = {"threads": threads}
    if "numba" in sys.modules:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        info["numba_threads"] = numba.get_num_threads()  # can be fewer: it cannot grow
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
        info["numba_threads"] = threads
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        info["blas"] = "threadpoolctl not installed: BLAS threads not pinned"
    else:
        import numpy  # noqa: F401  (loads the BLAS: threadpoolctl only sees loaded libraries)

        threadpool_limits(limits=threads)  # stays in force for the rest of the process
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                                "num_threads", "threading_layer")}
                        for d in threadpool_info() if d.get("user_api") == "blas"]
    from . import blas
    info["blas_per_pass"] = blas.status()  # small GEMMs' passes on one BLAS thread, or not
    if "torch" in sys.modules:
        import torch
        torch.set_num_threads(threads)
        info["torch_threads"] = torch.get_num_threads()
    return info


def cpuinfo() -> str:
    """/proc/cpuinfo's text ("" where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def physical_cores(text: str | None = None) -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo: SMT siblings share one core's
    FMA units. None where the file does not say."""
    text = cpuinfo() if text is None else text
    cores, package = set(), None
    for key, _, value in (line.partition(":") for line in text.splitlines()):
        if key.strip() == "physical id":
            package = value.strip()
        elif key.strip() == "core id":
            cores.add((package, value.strip()))
    return len(cores) or None


def blas_kernel() -> str | None:
    """NumPy's BLAS and the kernel it chose for this CPU, e.g. "openblas 0.3.29 Haswell"
    (threadpoolctl; None without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    import numpy  # noqa: F401  (loads the BLAS: threadpoolctl only sees loaded libraries)

    found = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # SciPy and PyTorch may load BLAS libraries of their own: NumPy's is the one matmul uses
    found.sort(key=lambda lib: "numpy" not in str(lib.get("filepath", "")).lower())
    if not found:
        return None
    parts = (found[0].get("internal_api"), found[0].get("version"), found[0].get("architecture"))
    return " ".join(str(p) for p in parts if p)


_interrupted = False


def stop_on_interrupt(prog: str) -> None:
    """Make Ctrl-C stop a long command at any moment (imports and JIT included): the first
    raises KeyboardInterrupt and is remembered, so that one swallowed where Python cannot
    raise it (inside a garbage-collector callback, as JAX's is: "Exception ignored in
    _xla_gc_callback") is raised again at the next check_interrupted(); a second Ctrl-C
    ends the process at once with exit code 130."""
    import signal

    def on_interrupt(signum, frame):
        global _interrupted
        if _interrupted:
            os.write(2, f"{prog}: interrupted\n".encode())
            os._exit(130)
        _interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)


def exit_interrupted() -> None:
    """End the process with exit code 130 after a Ctrl-C was handled, flushing the output.
    Not sys.exit(130): once a KeyboardInterrupt has passed through CPython's C-level
    PyRun_* (some extension modules run Python code that way while loading), CPython marks it
    unhandled for good and, at exit, kills its own process with SIGINT - status -2, not 130
    - even though the exception was caught (seen: one Ctrl-C 0.25 s into a bench)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(130)


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came and was swallowed (the measuring loops call
    it between samples)."""
    if _interrupted:
        raise KeyboardInterrupt


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what platform knows."""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo().splitlines()
             if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def source_files(module) -> list[Path]:
    """A module's code: its file, or every file of its package; for an object that is not a
    module (a backend instance), those of the module that defines its class."""
    if not isinstance(module, types.ModuleType):
        module = sys.modules.get(type(module).__module__)
    if hasattr(module, "__path__"):
        return sorted(p for folder in module.__path__ for p in Path(folder).rglob("*.py"))
    return [Path(module.__file__)] if getattr(module, "__file__", None) else []
