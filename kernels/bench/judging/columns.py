"""The columns of the per-case tables: what each derives from the measurements, and how it
reads. The console, Markdown, CSV and JSON outputs all come from this one list, so a new
column is one entry here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ... import REFERENCE, Pass, available
from ...vocabulary import KEYS
from ..measuring.libraries import NOT_COMPUTED


@dataclass(frozen=True)
class Context:
    """What a derived value may depend on besides its own backend's result."""

    entry: dict          # the case: name, kind, flops (conv), results of every backend
    gemm_gflops: float   # the machine's GEMM rate, measured in the same run


@dataclass(frozen=True)
class Column:
    header: str | None  # None: stored in the JSON, not shown
    key: str | None = None  # the result's field it derives, if any
    derive: Callable[[dict, Context], Any] | None = None
    cell: Callable[[dict], str] | None = None  # the text shown
    csv: tuple[str, ...] = ()  # the fields it becomes in the CSV (kernels.bench.output.csv_rows)
    flat: Callable[[dict], dict] | None = None  # {field: value}; default: the key's value

    def text(self, result) -> str:
        return self.cell(result) if self.cell else fmt(result.get(self.key))

    def fields(self, result) -> dict:
        """This column's CSV fields of one result."""
        if self.flat is not None:
            return self.flat(result)
        return {name: result.get(self.key) for name in self.csv}


# ------------------------------------------------------------------ formats

# Above this interquartile range, as a share of the median, "median ±IQR" misleads: it reads
# as a symmetric error (34.59 ±995.11 suggests negative times) where the samples have a long
# tail, so the quartiles themselves are shown. A quarter is where --compare's noise floor sits.
WIDE_SPREAD = 0.25


def ms(stats) -> str:
    """Median milliseconds with the 25-75 % spread: `1.26 ±0.09` (the interquartile range)
    when it is narrow, the quartiles `34.59 (25.10–1029.70)` when it is wide."""
    median, p25, p75 = (stats[k] * 1e3 for k in ("median", "p25", "p75"))
    if p75 - p25 > WIDE_SPREAD * median:
        return f"{median:.2f} ({p25:.2f}–{p75:.2f})"
    return f"{median:.2f} ±{p75 - p25:.2f}"


def ratio(value) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def size(n) -> str:
    """Bytes in the largest unit that keeps the number >= 1."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def count(n, noun) -> str:
    """"1 case", "2 cases": a count with its noun in the right number."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def fmt(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


# ------------------------------------------------------------------ derivations

PASSES = KEYS  # the report's keys of the passes, in computing order


def _total(result, _):
    """The passes' medians, summed: one training step's worth of the layer (None where the
    backend does not compute every pass: a forward alone is not a step)."""
    if result.get("not_computed"):
        return None
    return sum(result[p]["median"] for p in PASSES if p in result)


def pass_ms(result, key) -> str:
    """A pass's cell: its time, or why there is none."""
    if key in result:
        return ms(result[key])
    return NOT_COMPUTED if key in result.get("not_computed", ()) else "-"


def _pass_column(kind: Pass) -> Column:
    """A pass's milliseconds: its cell, and its CSV field (a number, or why there is none)."""
    key = kind.key

    def flat(result):
        return {f"{key}_ms": result[key]["median"] * 1e3 if key in result else
                NOT_COMPUTED if key in result.get("not_computed", ()) else None}
    return Column(kind.column, cell=lambda r: pass_ms(r, key), csv=(f"{key}_ms",), flat=flat)


def _gflops(result, ctx):
    flops = ctx.entry.get("flops")
    return None if flops is None or result["total_seconds"] is None else \
        (flops["forward"] + flops["backward"]) / result["total_seconds"] / 1e9


def _forward_gflops(result, ctx):
    flops = ctx.entry.get("flops")
    return None if flops is None else flops["forward"] / result["forward"]["median"] / 1e9


def _share_of_gemm(result, ctx):
    return None if result["gflops"] is None else result["gflops"] / ctx.gemm_gflops


def _speedup_vs_reference(result, ctx):
    reference = next((ctx.entry["results"][b] for b in available(REFERENCE)
                      if b in ctx.entry["results"]), None)
    if reference is None or None in (reference["total_seconds"], result["total_seconds"]):
        return None
    return reference["total_seconds"] / result["total_seconds"]


def _time_vs_torch(result, ctx):
    torch = ctx.entry["results"].get("torch")
    if torch is None or None in (torch["total_seconds"], result["total_seconds"]):
        return None
    return result["total_seconds"] / torch["total_seconds"]


def _intensity(result, ctx):
    """FLOPs per byte moved: the least traffic any algorithm needs (every input read and
    every output written once per pass, ctx.entry['bytes']) plus the backend's workspace,
    written once and read once. None where there is nothing to count."""
    flops, minimal = ctx.entry.get("flops"), ctx.entry.get("bytes")
    workspace = result.get("workspace_bytes")
    if flops is None or minimal is None or workspace is None:
        return None
    return (flops["forward"] + flops["backward"]) / (minimal + 2 * workspace)


def _errors(result, key="error") -> str:
    """y/dx/dw errors; n/a where the run had no more precise reference (float64), n/c for
    a pass the backend does not compute, - where not measured (an extrapolated row)."""
    if key in result and result[key] is None:
        return "n/a"
    error = result.get(key)
    if not error:
        return "-"
    return "/".join("n/c" if v is None else "inf" if v == float("inf") else f"{v:.2g}"
                    for v in error.values())


TENSORS = ("y", "dx", "dw")  # the tensors whose error is measured, one for each pass


def _errors_column(header, key, prefix) -> Column:
    """y/dx/dw errors in one cell, and one CSV field per tensor."""
    return Column(header, cell=lambda r: _errors(r, key),
                  csv=tuple(f"{prefix}_{t}" for t in TENSORS),
                  flat=lambda r: {f"{prefix}_{t}": v for t, v in (r.get(key) or {}).items()})


def _first_calls(result) -> str:
    seconds = result.get("first_call_seconds")
    return "-" if seconds is None else f"{seconds:.2f}"


CASE_COLUMNS = [
    *[_pass_column(p) for p in Pass],
    Column(None, "total_seconds", _total, csv=("total_ms",), flat=lambda r: {
        "total_ms": None if r["total_seconds"] is None else r["total_seconds"] * 1e3}),
    Column("GF/s", "gflops", _gflops, csv=("gflops",)),
    Column(None, "forward_gflops", _forward_gflops),
    Column("% GEMM", "peak_fraction", _share_of_gemm, cell=lambda r: share(r["peak_fraction"]),
           csv=("peak_fraction",)),
    Column("x naive", "speedup_vs_naive", _speedup_vs_reference,
           cell=lambda r: ratio(r["speedup_vs_naive"]), csv=("speedup_vs_naive",)),
    Column("x PyTorch", "time_vs_torch", _time_vs_torch, cell=lambda r: ratio(r["time_vs_torch"]),
           csv=("time_vs_torch",)),
    # Error of y/dx/dw against float64, in units of eps * sum|terms|
    # (kernels.bench.measuring.layers): each element against its own sum, and against the
    # tensor's largest (normwise).
    _errors_column("error y/dx/dw", "error", "error"),
    _errors_column("normwise y/dx/dw", "error_normwise", "normwise_error"),
    Column("workspace", "workspace_bytes", cell=lambda r: size(r.get("workspace_bytes")),
           csv=("workspace_bytes",)),
    Column(None, "flops_per_byte", _intensity, csv=("flops_per_byte",)),
    # Numba compiles (or loads its cache) and auto measures its candidates in these calls.
    Column("1st calls s", "first_call_seconds", cell=_first_calls, csv=("first_call_seconds",)),
]


def derive(entry, gemm_gflops) -> None:
    """Fill every derived field of every backend's result, in column order."""
    ctx = Context(entry, gemm_gflops)
    for column in CASE_COLUMNS:
        if column.derive is not None:
            for result in entry["results"].values():
                result[column.key] = column.derive(result, ctx)


def backend_label(backend, result) -> str:
    """The backend, whom it chose if it dispatches, and * if its figure is extrapolated."""
    return backend + (f" -> {result['chose']}" if "chose" in result else "") + \
        (" *" if "note" in result else "")


def table(entry) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of one case, ready for the console or Markdown."""
    shown = [c for c in CASE_COLUMNS if c.header]
    rows = []
    for b, r in entry["results"].items():  # ours first, then the libraries under a heading
        if r.get("library") and not any(row[0] == LIBRARIES_ROW for row in rows):
            rows.append([LIBRARIES_ROW] + [""] * len(shown))
        rows.append([backend_label(b, r)] + [c.text(r) for c in shown])
    for b in entry.get("unsupported", {}):  # why: in the notes under the table
        rows.append([f"{b} (not computed)"] + ["-"] * len(shown))
    return ["backend"] + [c.header for c in shown], rows


def unsupported_notes(entry) -> list[str]:
    """One line per reason a backend was not timed on the case: who and why."""
    by_reason = {}
    for backend, reason in entry.get("unsupported", {}).items():
        by_reason.setdefault(reason, []).append(backend)
    return [f"{', '.join(names)} not computed: {reason}" for reason, names in by_reason.items()]


# The row that opens a case's group of other projects' convolutions
# (kernels.bench.measuring.libraries).
LIBRARIES_ROW = "-- libraries --"
