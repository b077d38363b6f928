"""What the measurement commands write: output paths checked before any measuring, and
strict JSON.

Strict JSON: Python's json module writes `Infinity` and `NaN` for non-finite floats, tokens
that JSON.parse, jq and most other readers reject. Every JSON file these commands write goes
through `dumps`, which writes a non-finite float as a string - "inf", "-inf" or "nan" - so the
value stays distinguishable from `null` (not measured), and then refuses anything non-strict
(allow_nan=False). docs/report-json.md says which keys can hold such a string.
"""

from __future__ import annotations

import json
import math

from ...support.files import atomic_write, writable_problem

#: The report JSON's layout (docs/report-json.md); `--compare` refuses to mix versions.
#: 1 (no `settings`); 2: `settings`, `sections` (load and CPU time per section), the GEMM
#: rate bracketed, normwise errors, strict JSON, every backend not computed with its reason.
SCHEMA_VERSION = 2


def output_problem(flag, path) -> str | None:
    """Why an output path given on the command line cannot be written, or None (also when
    it was not given): an empty path is a mistake, not a wish for no output."""
    if path is None:
        return None
    if path == "":
        return f"{flag} '': give a file name"
    return writable_problem(path)


def strict(value):
    """`value` with every non-finite float replaced by "inf", "-inf" or "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dumps(value) -> str:
    """Strict JSON text of `value`, one key per line, ending in a newline."""
    return json.dumps(strict(value), indent=1, allow_nan=False) + "\n"


def write_json(path, value) -> None:
    """dumps(value) written atomically to `path`."""
    text = dumps(value)
    atomic_write(path, lambda f: f.write(text.encode()))
