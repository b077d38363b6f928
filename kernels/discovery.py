"""Where plug-ins are declared outside the code: installed packages' entry points and the
CONVBENCH_BACKENDS variable (kernels.plugins reads both once, on first use)."""

from __future__ import annotations

import importlib.util
import os

ENTRY_POINT_GROUP = "convbench.backends"
ENVIRONMENT_VARIABLE = "CONVBENCH_BACKENDS"


def importable(package: str) -> bool:
    """Whether `package` could be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def entry_points() -> list[tuple]:
    """(name, "module:object", origin) of each entry point in ENTRY_POINT_GROUP."""
    from importlib import metadata
    try:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # a broken installed distribution must not break the registry
        return []
    return [(ep.name, ep.value,
             f"entry point ({ep.dist.name if getattr(ep, 'dist', None) else 'unknown'})")
            for ep in found]


def environment() -> list[tuple]:
    """(name, target, origin) of each CONVBENCH_BACKENDS item; a malformed item's target is
    None (the registry says why it cannot be loaded)."""
    found = []
    for item in filter(None, (p.strip() for p in os.environ.get(ENVIRONMENT_VARIABLE,
                                                                  "").split(","))):
        name, sep, target = (s.strip() for s in item.partition("="))
        if not sep or not name or not target:
            found.append((item, None, ENVIRONMENT_VARIABLE))
        else:
            found.append((name, target, ENVIRONMENT_VARIABLE))
    return found
