"""python -m kernels verify: plug-in backends registered through CONVBENCH_BACKENDS (see
verify_backends.py), each verified in a fresh process as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLUGINS = ("good=verify_backends:GOOD,wrongdw=verify_backends:WRONG_DW,"
           "fwdonly=verify_backends:FORWARD_ONLY,broken=no_such_module:X")


def verify(*args, code=None):
    env = dict(os.environ, CONVBENCH_BACKENDS=PLUGINS,
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "kernels", "verify", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def test_a_correct_backend_with_a_narrower_range_passes(tmp_path):
    """groups=1 only: every groups>1 configuration is reported out of range with the reason,
    and the integer-exactness test picks a groups=1 configuration (it used to force
    groups=2 and fail on such a backend)."""
    run = verify("good", "--quick", "--json", str(tmp_path / "good.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = strict_json(tmp_path / "good.json")
    assert result["ok"] and result["totals"]["failed"] == 0 and result["totals"]["passed"] > 100
    assert [r["reason"] for r in result["out_of_range"]] == ["groups=1 only"]
    grid = next(r for r in result["categories"] if r["category"] == "grid")
    assert grid["passed"] > 0 and grid["out_of_range"] > 0
    assert set(result["worst_error_units"]) == {"forward", "backward-data", "backward-weights"}
    assert "verify good: PASSED" in run.stdout
    machine = result["machine"]  # the code verified depends on the ISA and vector width
    assert machine["vector_bits"] in (128, 256, 512) and machine["peak"]["float32"]["gflops"] > 0
    assert f"[machine {machine['id']}]" in run.stdout.splitlines()[1]


def test_a_wrong_weight_gradient_fails_naming_the_pass_and_a_configuration(tmp_path):
    run = verify("wrongdw", "--quick", "--json", str(tmp_path / "wrong.json"))
    assert run.returncode == 1, run.stdout + run.stderr
    result = strict_json(tmp_path / "wrong.json")
    grid = next(f for f in result["failures"] if f["test"] == "test_conv_matches_naive")
    assert "(backward-weights)" in grid["message"] and grid["configuration"]
    assert grid["configuration"] in grid["reproduce"]
    assert "verify wrongdw: FAILED" in run.stdout and "reproduce: " in run.stdout
    assert {f["category"] for f in result["failures"]} >= {"grid", "properties", "oracles"}
    shrunk = next(f for f in result["failures"] if f["category"] == "properties")
    assert shrunk["configuration"].startswith("cfg=({'N': 1, ")  # Hypothesis' shrunk example
    assert not any("backward-data)" in f["message"] for f in result["failures"])
    # The reproduction reruns that one configuration, and it fails again; it carries the
    # CONVBENCH_BACKENDS that alone makes the plug-in exist.
    assert grid["reproduce"].startswith("CONVBENCH_BACKENDS=")
    env = {k: v for k, v in os.environ.items() if k != "CONVBENCH_BACKENDS"}
    env["PYTHONPATH"] = str(HERE)
    command = grid["reproduce"].replace(" python -m pytest ", f" {sys.executable} -m pytest ", 1)
    again = subprocess.run(command,
                           shell=True, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout[-2000:]


def test_a_forward_only_backend_reports_the_backward_passes_not_computed(tmp_path):
    run = verify("fwdonly", "--quick", "--json", str(tmp_path / "fwd.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = strict_json(tmp_path / "fwd.json")
    assert result["not_computed"] == ["backward-data", "backward-weights"]
    assert result["totals"]["not_computed"] > 0 and result["totals"]["failed"] == 0
    assert list(result["worst_error_units"]) == ["forward"]
    assert "not computed (not in the backend's PASSES): backward-data, backward-weights" \
        in run.stdout


@pytest.mark.parametrize("name, reason", [("nope", "unknown backend 'nope'"),
                                          ("broken", "cannot load no_such_module:X")])
def test_an_unknown_or_unavailable_backend_is_one_line_and_exit_2(name, reason, tmp_path):
    run = verify(name, "--json", str(tmp_path / "out.json"))
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and reason in run.stderr, run.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("args", [(), ("numba", "--bogus"), ("numba", "--json")])
def test_a_bad_command_line_is_one_line_and_exit_2(args):
    run = verify(*args)
    assert run.returncode == 2 and run.stdout == "" and run.stderr.count("\n") == 1, run.stderr


def test_an_unwritable_json_path_is_refused_before_the_run(tmp_path):
    run = verify("numba", "--json", str(tmp_path / "missing" / "out.json"))
    assert run.returncode == 2 and run.stdout == "" and "does not exist" in run.stderr


def test_without_pytest_or_hypothesis_it_names_the_extra():
    code = ("import sys; sys.modules['hypothesis'] = None; "
            "from kernels.conformance.verify import main; sys.exit(main(['numba']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "hypothesis" in run.stderr and "convbench[verify]" in run.stderr
