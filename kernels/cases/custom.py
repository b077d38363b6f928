"""Layers the named sets do not have: a user's own cases, from a compact spec on the command
line (`--case`), from a file (`--cases-file`, JSON or CSV) or, for the asv and
pytest-benchmark suites, from the file named by CONVBENCH_CASES_FILE.

A spec is comma-separated key=value items (pairs as HxW, e.g. k=3x5):

    name=mylayer,N=8,C=64,H=56,W=56,F=64,k=3,stride=1,padding=1,dilation=1,groups=1
    name=mypool,kind=pool,op=max,C=64,H=56,k=2

conv keys: name, C, H, F and k are required; N (default 64), W (default H), stride (1),
padding (0, an int, HxW, 'same' or 'valid'), dilation (1), groups (1), source.
pool keys: name, kind=pool, op (max or avg), C, H, k (2); N (64), source (windows of k,
stride k, no padding, as the named pool cases).
naive=1 also times the naive reference on the case (it is skipped by default: it can take
minutes on a large layer).

A JSON file is a list of objects with the same keys (ints as numbers or strings, a pair as a
[h, w] list or "HxW"); a CSV file has a header row of keys, an empty cell meaning the
default. Every case in a file needs a non-empty `source`: where the layer comes from.
Everything is checked here, before anything is measured: an unknown key, a value that is
not an integer, a name already taken or an impossible geometry is a ValueError naming the
case and the key.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from . import BATCH, ConvCase, PoolCase, all_cases, sets
from ..shapes import conv2d_geometry, pool2d_geometry

ENVIRONMENT_VARIABLE = "CONVBENCH_CASES_FILE"
USER_SET = "custom"   # the set every user case belongs to: never one of ours, never targeted
COMMAND_LINE_SOURCE = "--case on the command line"
CONV_KEYS = ("name", "kind", "N", "C", "H", "W", "F", "k", "stride", "padding", "dilation",
             "groups", "source", "naive")
POOL_KEYS = ("name", "kind", "op", "N", "C", "H", "k", "source", "naive")
_PAIRS = ("k", "stride", "padding", "dilation")


@dataclasses.dataclass(frozen=True)
class UserConvCase(ConvCase):
    """A conv case of the user's: in the set 'custom', whatever its name."""

    @property
    def set(self) -> str:
        return USER_SET


@dataclasses.dataclass(frozen=True)
class UserPoolCase(PoolCase):
    @property
    def set(self) -> str:
        return USER_SET


def parse_spec(text: str, source: str = COMMAND_LINE_SOURCE):
    """One case from `key=value,key=value,...` (see the module doc)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("--case is empty; give key=value items, e.g. "
                         "name=mylayer,C=64,H=56,F=64,k=3")
    fields = {}
    for item in text.split(","):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not key:
            raise ValueError(f"--case {text!r}: {item.strip()!r} is not key=value")
        if key in fields:
            raise ValueError(f"--case {text!r}: {key} is given twice")
        fields[key] = value
    fields.setdefault("source", source)
    return from_fields(fields, where=f"--case {text!r}")


def from_fields(fields: dict, where: str):
    """One case from a mapping of keys to values (strings, ints or [h, w] lists)."""
    fields = {k: v for k, v in fields.items() if v not in ("", None)}  # empty: the default
    name = str(fields.get("name", "")).strip()
    if not name:
        raise ValueError(f"{where}: a case needs a name (name=...)")
    where = f"case {name!r} ({where})" if not where.startswith("--case") else where
    kind = str(fields.get("kind", "conv"))
    if kind not in ("conv", "pool"):
        raise ValueError(f"{where}: kind={kind!r}; choose conv or pool")
    keys = CONV_KEYS if kind == "conv" else POOL_KEYS
    if unknown := [k for k in fields if k not in keys]:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; {kind} cases take "
                         f"{', '.join(keys)}")
    required = ("C", "H", "F", "k") if kind == "conv" else ("C", "H", "op")
    if missing := [k for k in required if k not in fields]:
        raise ValueError(f"{where}: {missing[0]} is missing ({kind} cases need "
                         f"{', '.join(required)})")
    values = {k: _value(fields[k], k, where) for k in fields
              if k not in ("name", "kind", "source", "op")}
    naive_ok = bool(values.pop("naive", 0))
    source = str(fields.get("source", "")).strip()
    if kind == "pool":
        if fields["op"] not in ("max", "avg"):
            raise ValueError(f"{where}: op={fields['op']!r}; choose max or avg")
        case = UserPoolCase(name, fields["op"], C=values["C"], H=values["H"],
                            k=values.get("k", 2), N=values.get("N", BATCH),
                            naive_ok=naive_ok, mnist=False, source=source)
    else:
        case = UserConvCase(name, C=values["C"], F=values["F"], H=values["H"], k=values["k"],
                            stride=values.get("stride", 1), padding=values.get("padding", 0),
                            groups=values.get("groups", 1), N=values.get("N", BATCH),
                            W=values.get("W"), dilation=values.get("dilation", 1),
                            naive_ok=naive_ok, source=source)
    _check_geometry(case, where)
    return case


def _value(value, key, where):
    """An int, an (h, w) pair for the pair keys, or 'same'/'valid' for padding."""
    if key == "padding" and value in ("same", "valid"):
        return value
    if key in _PAIRS:
        if isinstance(value, str) and "x" in value:
            value = value.split("x")
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise ValueError(f"{where}: {key}={value!r} must be an int or HxW")
            return tuple(_integer(v, key, where) for v in value)
    if key == "naive":
        if str(value) not in ("0", "1"):
            raise ValueError(f"{where}: naive={value!r} must be 0 or 1")
    return _integer(value, key, where)


def _integer(value, key, where) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{where}: {key}={value!r} is not an integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{where}: {key}={value!r} is not an integer") from None
    return number


def _check_geometry(case, where):
    """The shared shape rules on zero-stride views of the case's shapes (nothing allocated)."""
    for key in ("N", "C", "H", "W", "F", "groups"):
        value = getattr(case, key, None)
        if value is not None and value < 1:
            raise ValueError(f"{where}: {key}={value} must be >= 1")

    def dummy(shape):
        return np.broadcast_to(np.zeros(1, np.float32), shape)
    try:
        if case.kind == "pool":
            pool2d_geometry(dummy((case.N, case.C, case.H, case.H)), case.k)
            return
        if case.C % case.groups:  # before w's shape is built from C // groups
            raise ValueError(f"groups={case.groups} must divide the input channels "
                             f"C={case.C}")
        x_shape, w_shape = case._shapes()
        conv2d_geometry(dummy(x_shape), dummy(w_shape), **case.params())
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None


def read_file(path) -> list:
    """Every case of a JSON (a list of objects) or CSV (a header row) file."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--cases-file {str(path)!r}: cannot read it "
                         f"({error.strerror if isinstance(error, OSError) else error})") \
            from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--cases-file {str(path)!r}: not valid JSON ({error})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"--cases-file {str(path)!r}: JSON must be a list of objects, "
                             "one per case")
        numbered = [(f"{path.name} item {i + 1}", r) for i, r in enumerate(rows)]
    else:
        reader = csv.DictReader(text.splitlines())
        rows = list(reader)
        if reader.fieldnames is None:
            raise ValueError(f"--cases-file {str(path)!r} is empty")
        if any(None in r for r in rows):
            raise ValueError(f"--cases-file {str(path)!r}: a row has more cells than the "
                             "header")
        numbered = [(f"{path.name} line {i + 2}", {k.strip(): (v or "").strip()
                                                   for k, v in r.items()})
                    for i, r in enumerate(rows)]
    if not numbered:
        raise ValueError(f"--cases-file {str(path)!r} has no cases")
    cases = []
    for where, row in numbered:
        if not str(row.get("source") or "").strip():
            raise ValueError(f"{where}: every case in a file needs a source (where the layer "
                             "comes from)")
        cases.append(from_fields(row, where))
    return cases


def check_names(cases) -> None:
    """User cases must not take a named case's or set's name, nor each other's."""
    taken = {*all_cases(), *sets(), "all", USER_SET}
    seen = set()
    for case in cases:
        if case.name in taken:
            raise ValueError(f"case name {case.name!r} is taken by the named cases; "
                             "choose another")
        if case.name in seen:
            raise ValueError(f"case name {case.name!r} is given twice")
        seen.add(case.name)


def collect(specs=(), files=()) -> list:
    """The cases of --case specs and --cases-file files, names checked."""
    cases = [parse_spec(s) for s in specs or ()]
    for path in files or ():
        cases += read_file(path)
    check_names(cases)
    return cases


def from_environment() -> list:
    """The cases of the file CONVBENCH_CASES_FILE names (none when unset): the asv and
    pytest-benchmark suites time them next to their own grid."""
    path = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not path:
        return []
    try:
        return collect(files=[path])
    except ValueError as error:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {error}") from None
