"""Measurement: `python -m kernels bench | map | machine | merge | fleet` and the instruments
the asv suites share. Three rooms and the commands on top; imports point down this list:

measuring/
    instruments     the timer, the machine's GEMM rate and bandwidth, the workspace meter
    load            how busy the machine was per section (load average, others' CPU time)
    layers          one backend (or PyTorch) on one named case of kernels.cases
    models          whole CNNs, ours and PyTorch's twin: the only module here importing cnn
    breakdown       where a training step's time goes; a training run's peak memory,
                    measured by memory_probe in a fresh interpreter
    libraries       other projects' convolutions in a report: kept apart from ours
judging/
    columns         what the per-case tables derive from the measurements
    readers         how each target reads its figure; shares: rates as shares of the
                    measured peak
    targets         the speed targets as data, and the one function that checks them
    compare         `--compare`: the regression gate (significance: its statistics;
                    report_file: a report read back)
    machines        `--machines`: the figures of several machines' reports side by side
output/
    render          the console; markdown, csv_rows: the files; charts, map_heatmap: PNGs
    outputs         JSON written atomically
the commands and their plumbing, here:
    cli             the command line of `bench`
    report          one validated request run: environment, sections, targets checked
    report_cases    the report's layer cases: measure -> derive
    report_models   the report's whole-model sections
    side_by_side    `--machines`: the table printed and written
    algorithm_map   `map`: which algorithm wins where; map_points: its libraries and layers
    fingerprint     `machine`: the machine's fingerprint and measured peak
    asv_site        `asv-offline`: asv's page without the internet
    shards          `--shard i/n`; merge: `merge` joins the shards; fleet: `fleet` launches
                    them through submitit

The names below are the stable public paths the asv suites import: asv runs today's suites
against old commits, so they must stay importable from `kernels.bench`.
"""

from .measuring import load
from .measuring.instruments import gemm_peak, measure, workspace_bytes

__all__ = ["gemm_peak", "load", "measure", "workspace_bytes"]
