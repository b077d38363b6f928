"""Where backends come from: the built-in table, the frameworks, and anyone's plug-ins.

Four sources, read once on first use, in this order (a later one cannot take a name that an
earlier one holds):

1. ours: the ladder of algorithms, the reference and the dispatcher (`BUILT_IN`);
2. the frameworks' convolutions (`FRAMEWORKS`), listed only when their package is installed;
3. packages that declare an entry point in the group `convbench.backends`
   (`name = "package.module:object"`, or a module that is itself the backend);
4. the environment variable CONVBENCH_BACKENDS="name=package.module:object,...".

`kernels.register(name, backend)` adds one at run time. A plug-in is imported on first use,
not at discovery: one that fails to import, clashes with a taken name or lacks a method of
the contract is marked unavailable with a one-line reason and never breaks the others. Every
plug-in is a LIBRARY: never offered to auto, never counted as ours.
"""

from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from typing import Any

from . import contract
from .contract import BACKWARD_METHODS, CONV_METHODS, POOL_METHODS, Capabilities
from .discovery import ENTRY_POINT_GROUP, ENVIRONMENT_VARIABLE
from .discovery import entry_points as _entry_points
from .discovery import environment as _environment
from .discovery import importable as _importable
from .vocabulary import NAMES, Pass

# What a backend is for, so callers ask the registry instead of comparing names.
REFERENCE = "reference"    # the executable definition: obviously right, far too slow to train
ALGORITHM = "algorithm"    # a convolution algorithm of ours: the rungs of the ladder
DISPATCHER = "dispatcher"  # computes nothing itself: hands each layer to an algorithm
LIBRARY = "library"        # someone else's convolution: a framework's or a plug-in's
ROLES = (REFERENCE, ALGORITHM, DISPATCHER, LIBRARY)

# The three passes of a convolution (kernels.vocabulary); a backend declares the ones it
# computes in PASSES.
FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS = Pass
ALL_PASSES = NAMES


# Ladder order: each rung is a different algorithm, not a tuning of the previous one.
# "module:attribute" names a backend object inside a module (one algorithm, two tile sizes).
BUILT_IN = {
    "naive": ("kernels.backends.naive", REFERENCE),
    "strided": ("kernels.backends.strided", ALGORITHM),
    "im2col": ("kernels.backends.im2col", ALGORITHM),
    "numba": ("kernels.backends.numba", ALGORITHM),
    "blocked": ("kernels.backends.blocked", ALGORITHM),
    "winograd2x2": ("kernels.backends.winograd:winograd2x2", ALGORITHM),
    "winograd4x4": ("kernels.backends.winograd:winograd4x4", ALGORITHM),
    "fft": ("kernels.backends.fft", ALGORITHM),
    "auto": ("kernels.backends.auto", DISPATCHER),
}
# name -> (backend module, the package that must be importable, the extra that installs it)
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "torch": ("kernels.backends.libraries.torch", "torch", "torch==2.13.0"),
    "jax": ("kernels.backends.libraries.jax", "jax", "convbench[jax]"),
    "tensorflow": ("kernels.backends.libraries.tensorflow", "tensorflow",
                   "convbench[tensorflow]"),
    "onnxruntime": ("kernels.backends.libraries.onnxruntime", "onnxruntime",
                    "convbench[onnxruntime]"),
}
# Packages a framework's backend imports besides the one above: a half-installed framework
# (onnxruntime without onnx) is listed as unavailable, with the extra to install, not loaded.
COMPANIONS: dict[str, tuple[str, ...]] = {"jax": ("jaxlib",), "onnxruntime": ("onnx",)}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*\Z")


@dataclass
class Entry:
    """One registered name: where to find its backend, and why it cannot be used (if so)."""
    name: str
    target: Any             # "module" / "module:attribute", or the backend object itself
    role: str
    origin: str
    problem: str | None = None   # None: usable (as far as is known before loading)
    backend: Any = None          # the loaded object
    capabilities: Capabilities | None = None   # read once, when it loads


_entries: dict[str, Entry] | None = None


def entries() -> list[Entry]:
    """Every known entry, in listing order (discovered once per process)."""
    global _entries
    if _entries is None:
        _entries = {}
        for name, (target, role) in BUILT_IN.items():
            _entries[name] = Entry(name, target, role, "built-in")
        for name, (target, package, extra) in FRAMEWORKS.items():
            absent = [p for p in (package, *COMPANIONS.get(name, ())) if not _importable(p)]
            missing = None if not absent else (
                f"{' and '.join(absent)} {'is' if len(absent) == 1 else 'are'} not installed "
                f"({install_hint(name)})")
            _entries[name] = Entry(name, target, LIBRARY, "framework", missing)
        for name, target, where in [*_entry_points(), *_environment()]:
            _add(Entry(name, target, LIBRARY, where))
    return list(_entries.values())


def install_hint(name: str) -> str:
    """The command that installs the framework `name`'s extra."""
    return f"pip install '{FRAMEWORKS[name][2]}'"


def did_you_mean(name: str) -> str:
    """" (did you mean 'blocked'?)" when `name` is a near miss of a registered backend's
    name (difflib), else "": for every message that rejects an unknown backend name."""
    close = difflib.get_close_matches(name, [e.name for e in entries() if e.name != name],
                                      n=1) if isinstance(name, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def find(name: str) -> Entry | None:
    entries()
    return _entries.get(name)


def forget() -> None:
    """Discover again on next use (tests change CONVBENCH_BACKENDS and installed plug-ins)."""
    global _entries
    _entries = None
    _loaded.clear()


def usable(entry: Entry) -> bool:
    """Whether the entry can be used, as far as can be known cheaply: a plug-in is loaded
    (its import is the only way to know), ours and the frameworks are not (a framework's
    package being installed is enough to list it; importing TensorFlow takes seconds)."""
    if entry.problem is None and entry.origin not in ("built-in", "framework"):
        load(entry)
    return entry.problem is None


def _add(entry: Entry) -> None:
    if entry.problem is None and not _NAME.match(entry.name):
        entry.problem = f"{entry.name!r} is not a usable backend name"
    if entry.name in _entries:
        holder = _entries[entry.name]
        if holder.problem is None or holder.origin in ("built-in", "framework"):
            clash = Entry(f"{entry.name} ({entry.origin})", entry.target, entry.role,
                          entry.origin, f"name {entry.name!r} is taken by the "
                                        f"{holder.origin} backend")
            _entries[clash.name] = clash
            return
    _entries[entry.name] = entry


def load(entry: Entry) -> None:
    """Import the entry's backend once; on any failure record a one-line reason instead."""
    if entry.backend is not None or entry.problem is not None:
        return
    if entry.target is None:
        entry.problem = (f"{ENVIRONMENT_VARIABLE} item {entry.name!r} is not "
                         f"name=package.module:object")
        return
    try:
        backend = _resolve(entry.target) if isinstance(entry.target, str) else entry.target
    except Exception as error:  # whatever a plug-in raises, the others go on
        entry.problem = f"cannot load {entry.target}: {_one_line(error)}"
        if entry.origin == "framework" and entry.name in FRAMEWORKS:
            entry.problem += f" ({install_hint(entry.name)})"
        return
    entry.problem = contract_problem(backend)
    if entry.problem is None:
        _bind(entry, backend)


def _bind(entry: Entry, backend) -> None:
    """Hold the loaded backend with its capabilities read once; one that borrows pooling
    gets its lender's functions (contract.lend_pooling)."""
    entry.capabilities = contract.read(backend, declared_passes(backend))
    lender = find(entry.capabilities.pooling_from or "")
    if lender is not None:
        load(lender)
    entry.problem = contract.lend_pooling(backend, entry.capabilities.pooling_from,
                                          lender.backend if lender else None)
    if entry.problem is None:
        entry.backend, _loaded[id(backend)] = backend, entry


_loaded: dict[int, Entry] = {}  # id of a loaded backend -> its entry


def capabilities(backend) -> Capabilities:
    """A loaded backend's capabilities as read when it loaded; an object the registry does
    not hold (a test's stand-in) is read now."""
    entry = _loaded.get(id(backend))
    return entry.capabilities if entry is not None and entry.backend is backend else \
        contract.read(backend, declared_passes(backend))


def _resolve(target: str):
    module, _, attribute = target.partition(":")
    found = importlib.import_module(module.strip())
    for part in filter(None, attribute.strip().split(".")):
        found = getattr(found, part)
    return found


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:200]}"


def declared_passes(backend) -> tuple[str, ...]:
    """The backend's PASSES in canonical order; an unknown pass name is a ValueError."""
    declared = getattr(backend, "PASSES", ALL_PASSES)
    if isinstance(declared, str) or not all(isinstance(p, str) for p in declared):
        raise ValueError(f"PASSES must be a tuple of names from {ALL_PASSES}, got {declared!r}")
    if unknown := [p for p in declared if p not in ALL_PASSES]:
        raise ValueError(f"PASSES names unknown passes {unknown}; known: {ALL_PASSES}")
    if FORWARD not in declared:
        raise ValueError("PASSES must include the forward pass: the backward passes use "
                         "its cache")
    return tuple(p for p in ALL_PASSES if p in declared)


def contract_problem(backend) -> str | None:
    """Why `backend` cannot serve as a backend (a missing method, bad PASSES), or None."""
    try:
        computed = declared_passes(backend)
    except ValueError as error:
        return str(error)
    needed = [*CONV_METHODS, *([] if getattr(backend, "POOLING_FROM", None) else POOL_METHODS)]
    if computed != (FORWARD,):
        needed += BACKWARD_METHODS
    if missing := [m for m in needed if not callable(getattr(backend, m, None))]:
        return f"lacks {', '.join(missing)} of the kernels.Backend contract"
    try:
        contract.read(backend, computed)
    except ValueError as error:
        return str(error)
    return None


def register(name, backend, role) -> None:
    entries()
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not _NAME.match(name):
        raise ValueError(f"name {name!r} is not a usable backend name (letters, digits, "
                         f"'_', '.', '+', '-'; not starting with a digit)")
    if name in _entries:
        raise ValueError(f"name {name!r} is taken by the {_entries[name].origin} backend")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose from {', '.join(map(repr, ROLES))}")
    if isinstance(backend, str):
        raise TypeError("backend must be the backend object or module, not a str "
                        "(use CONVBENCH_BACKENDS or an entry point to name a module)")
    if problem := contract_problem(backend):  # a missing method is a wrong type of object
        error = TypeError if problem.startswith("lacks") else ValueError
        raise error(f"backend for {name!r}: {problem}")
    entry = _entries[name] = Entry(name, backend, role, "register()")
    _bind(entry, backend)
    if entry.problem is not None:
        del _entries[name]
        raise ValueError(f"backend for {name!r}: {entry.problem}")


def unregister(name: str) -> None:
    """Remove a backend added with register() (tests clean up after themselves)."""
    entry = find(name)
    if entry is None or entry.origin != "register()":
        raise ValueError(f"{name!r} was not added with kernels.register()")
    del _entries[name]
    _loaded.pop(id(entry.backend), None)


def status(load_all: bool) -> list[dict]:
    rows = []
    for entry in entries():
        if load_all and entry.problem is None:
            load(entry)
        computed = declared_passes(entry.backend) if entry.backend is not None else None
        rows.append(dict(name=entry.name, role=entry.role, origin=entry.origin,
                         status="available" if entry.problem is None else "unavailable",
                         passes=list(computed) if computed else None,
                         reason=entry.problem))
    return rows
