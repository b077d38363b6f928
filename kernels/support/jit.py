"""Numba's decorator for every kernel of the project, with Numba configured first.

Numba fixes the target it compiles for when the first kernel is decorated, and reads its
threading layer when the first kernel compiles: machine.configure_numba() has to run
before both. Every module that compiles kernels decorates them with this `njit`, so the
order holds whichever backend, test or tool comes first, and no module imports another
only for the side effect of configuring Numba. `configure()` is the one entry point for
code that needs the settings without decorating anything (e.g. to read the thread count).
"""

from __future__ import annotations

from . import machine

_configured = False


def configure() -> None:
    """machine.configure_numba(), once per process."""
    global _configured
    if not _configured:
        machine.configure_numba()
        _configured = True


def njit(*args, **options):
    """numba.njit(*args, **options) after configure(): use it as `@njit` or `@njit(...)`."""
    configure()
    import numba

    return numba.njit(*args, **options)
