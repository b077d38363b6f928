"""`python -m kernels list`: every backend the registry knows, usable or not, and why not.

    python -m kernels list            # name, role, origin, passes, status (and the reason)
    python -m kernels list --json     # the same rows as strict JSON on stdout

Each backend is imported to find out whether it loads, so a plug-in that fails to import,
clashes with a taken name or lacks a method of the contract shows here with its one-line
reason. Ours are the reference, the algorithms and the dispatcher; the libraries (the
frameworks and every plug-in) are timed and verified next to them but never counted as ours.
"""

from __future__ import annotations

import json

from . import plugins, status
from .support.command_line import Parser
from .support.tables import aligned
from .vocabulary import Pass


def table(rows: list[dict]) -> str:
    """The rows as an aligned text table, ours first, then the libraries."""
    lines = []
    for row in rows:
        computed = ",".join(Pass(p).short for p in row["passes"]) if row["passes"] else "-"
        state = row["status"] if row["reason"] is None else f"{row['status']}: {row['reason']}"
        lines.append((row["name"], row["role"], row["origin"], computed, state))
    return aligned(("backend", "role", "origin", "passes", "status"), lines)


def main(argv=None) -> int:
    parser = Parser(prog="python -m kernels list", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = status(load=True)
    if args.json:
        print(json.dumps(rows, indent=1, allow_nan=False))
    else:
        print(table(rows))
        print(f"{sum(r['status'] == 'available' for r in rows)} of {len(rows)} available; "
              f"plug-ins: entry point group '{plugins.ENTRY_POINT_GROUP}' or "
              f"{plugins.ENVIRONMENT_VARIABLE}=name=package.module:object")
    return 0
