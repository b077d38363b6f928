"""Every JSON file the measurement commands write is strict JSON: no `Infinity` or `NaN`
tokens, which JSON.parse and jq reject (a non-finite float becomes "inf", "-inf", "nan")."""

from __future__ import annotations

import json
import math

import kernels.bench.algorithm_map as algorithm_map
import kernels.bench.measuring.layers as layers
from kernels.bench.output import outputs
from test_bench.test_report import restored_process_state, run_report


def strict_loads(text):
    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_become_strings():
    value = {"a": [math.inf, -math.inf, math.nan, 1.5, None], "b": (2, "x")}
    assert strict_loads(outputs.dumps(value)) == {"a": ["inf", "-inf", "nan", 1.5, None],
                                                  "b": [2, "x"]}


def test_a_report_with_infinite_errors_is_strict_json(tmp_path, monkeypatch):
    monkeypatch.setattr(layers, "error_units", lambda *args: dict(
        error=dict(y=math.inf, dx=math.nan, dw=0.0)))
    path = tmp_path / "r.json"
    code, _ = run_report(["--cases", "tiny.conv", "--backends", "im2col", "--repeats", "1",
                          "--sections", "conv", "--threads", "1", "--no-torch",
                          "--json", str(path)])
    assert code == 0
    (case,) = strict_loads(path.read_text())["cases"]
    assert case["results"]["im2col"]["error"] == dict(y="inf", dx="nan", dw=0.0)


def test_a_map_with_non_finite_values_is_strict_json(tmp_path, monkeypatch):
    point = dict(N=4, C=4, H=8, k=1, flops=1, seconds={"im2col": math.inf}, winner="im2col",
                 margin=math.nan, vs_torch=None)
    monkeypatch.setattr(algorithm_map, "sweep",
                        lambda *args, **kwargs: {"channels": [point], "size": [point]})
    path = tmp_path / "m.json"
    with restored_process_state():
        assert algorithm_map.main(["--quick", "--no-torch", "--threads", "1",
                                   "--json", str(path)]) == 0
    panel = strict_loads(path.read_text())["panels"]["channels"][0]
    assert panel["seconds"] == {"im2col": "inf"} and panel["margin"] == "nan"
