"""A report as CSV (`--csv`): one row per case and backend, then one per architecture and
backend for the whole-model sections, for a spreadsheet or pandas. The measurements' fields
are the per-case tables' columns (kernels.bench.judging.columns), each as the fields it names."""

from __future__ import annotations

from ...vocabulary import KEYS
from ..judging.columns import CASE_COLUMNS
from .render import MODEL_SECTIONS

CSV_FIELDS = ("case", "set", "kind", "batch", "backend", "group", "chose",
              *(name for column in CASE_COLUMNS for name in column.csv),
              *(f"conversion_share_{key}" for key in KEYS), "note", "unsupported")


def csv_text(report) -> str:
    """One row per case and backend, then one per architecture and backend for the training
    step and the evaluation (kind train_step / evaluate, their time in total_ms). A backend
    that does not compute a case gets a row with its reason in `unsupported`."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for case in report["cases"]:
        for backend, r in case["results"].items():
            row = dict(case=case["name"], set=case.get("set"), kind=case["kind"],
                       batch=case.get("batch"), backend=backend, **r,
                       group="library" if r.get("library") else "ours")
            for column in CASE_COLUMNS:
                row.update(column.fields(r))
            row.update({f"conversion_share_{k}": v
                        for k, v in (r.get("conversion_share") or {}).items()})
            writer.writerow(row)
        for backend, reason in case.get("unsupported", {}).items():
            writer.writerow(dict(case=case["name"], set=case.get("set"), kind=case["kind"],
                                 batch=case.get("batch"), backend=backend, unsupported=reason))
    for section, key, _ in MODEL_SECTIONS:
        for entry in report[section]:
            for backend, r in entry["results"].items():
                writer.writerow(dict(case=entry["name"], set="models", kind=key,
                                     batch=entry.get("batch"), backend=backend,
                                     total_ms=r[key]["median"] * 1e3,
                                     time_vs_torch=r["time_vs_torch"]))
    return out.getvalue()
