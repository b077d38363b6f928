"""Measurement: `python -m kernels bench` and the instruments the asv suites share.

    instruments  the timer, the machine's GEMM rate, the workspace meter
    layers       one backend (or PyTorch) on one named case of kernels.cases
    models       whole CNNs, ours and PyTorch's twin: the only module here that imports cnn
    columns      what the per-case tables derive from the measurements, and how each reads
    targets      the speed targets as data, and the one function that checks them
    libraries    other projects' convolutions in a report: kept apart from ours, summarised
    map_points   the map's library contenders and its points at a user's own layers
    render       console, Markdown and PNG
    report       measure -> derive -> check, for one validated request
    cli          the command line

The names below are the stable public paths the asv suites import: asv runs today's suites
against old commits, so they must stay importable from `kernels.bench`.
"""

from .instruments import gemm_peak, measure, workspace_bytes

__all__ = ["gemm_peak", "measure", "workspace_bytes"]
