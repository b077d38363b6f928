"""A report as CSV (`--csv`): one row per case and backend, then one per architecture and
backend for the whole-model sections, for a spreadsheet or pandas."""

from __future__ import annotations

from .libraries import NOT_COMPUTED
from .render import MODEL_SECTIONS


CSV_FIELDS = ("case", "set", "kind", "batch", "backend", "group", "chose", "forward_ms",
              "backward_data_ms", "backward_weights_ms", "total_ms", "gflops", "peak_fraction",
              "speedup_vs_naive", "time_vs_torch", "error_y", "error_dx", "error_dw",
              "normwise_error_y", "normwise_error_dx", "normwise_error_dw",
              "workspace_bytes", "flops_per_byte", "first_call_seconds",
              "conversion_share_forward", "conversion_share_backward_data",
              "conversion_share_backward_weights", "note", "unsupported")


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
            for name in ("forward", "backward_data", "backward_weights"):
                row[f"{name}_ms"] = r[name]["median"] * 1e3 if name in r else \
                    NOT_COMPUTED if name in r.get("not_computed", ()) else None
            row["total_ms"] = None if r["total_seconds"] is None else r["total_seconds"] * 1e3
            row.update({f"error_{k}": v for k, v in (r.get("error") or {}).items()})
            row.update({f"conversion_share_{k}": v
                        for k, v in (r.get("conversion_share") or {}).items()})
            row.update({f"normwise_error_{k}": v
                        for k, v in (r.get("error_normwise") or {}).items()})
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
