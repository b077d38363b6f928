"""A report's JSON read back (`--compare`, `--machines`): one line for the user when the
file cannot be read or is not a report of `python -m kernels bench --json`."""

from __future__ import annotations

import json


class CompareError(Exception):
    """An input report is unreadable or is not a report: one line for the user."""


def load(path) -> dict:
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as e:
        raise CompareError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise CompareError(f"{path} is not JSON ({e})") from None
    if not isinstance(report, dict) or not isinstance(report.get("cases"), list):
        raise CompareError(f"{path} is not a report of python -m kernels bench --json")
    return report
