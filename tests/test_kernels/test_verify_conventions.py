"""verify tells wrong numbers from house conventions (kernels/conformance/conventions.py): a
correct plug-in that checks its inputs its own way passes and is told which conventions it
does not follow, with the helper that meets each; a plug-in with wrong numbers still fails;
our own backends stay held to the conventions; the worst-error line never calls a finite
wrong value non-finite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kernels
from kernels import plugins
from kernels.conformance import conventions, record, results
from kernels.conformance.conventions import all_of, word

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OWN_CHECKS = "owncheck=convention_backends:OWN_CHECKS"


def run(*args, backends=OWN_CHECKS, path=HERE, module=("kernels", "verify")):
    env = dict(os.environ, CONVBENCH_BACKENDS=backends,
               PYTHONPATH=os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", *module, *args], capture_output=True,
                          text=True, env=env, timeout=900, cwd=ROOT)


def test_a_correct_plugin_with_its_own_checks_passes_and_is_told_the_conventions(tmp_path):
    """Own wording, a float64 dy after a float32 forward computed right, NumPy's warnings on
    inf, dx alone summed in another order: exit 0, every one listed as a convention with its
    helper (issue 23: 10 failures before)."""
    done = run("owncheck", "--quick", "--json", str(tmp_path / "own.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "own.json").read_text())
    assert result["ok"] and result["totals"]["failed"] == 0 and result["failures"] == []
    found = {(c["convention"], c["helper"]): c for c in result["conventions"]}
    expected = {(conventions.WORDING.rule, conventions.GRAD_HELPER),
                (conventions.WORDING.rule, conventions.CONV_HELPER),
                (conventions.ERROR_CLASS.rule, conventions.GRAD_HELPER),
                (conventions.MIXED_DTYPES.rule, conventions.GRAD_HELPER),
                (conventions.QUIET_NONFINITE.rule, conventions.QUIET_HELPER),
                (conventions.PASSES_BITWISE.rule, conventions.PASSES_HELPER)}
    assert set(found) == expected
    wording = found[(conventions.WORDING.rule, conventions.GRAD_HELPER)]
    assert "names `dy`" in wording["example"] and "regex" in wording["example"]
    assert "matmul" in found[(conventions.QUIET_NONFINITE.rule, conventions.QUIET_HELPER)][
        "example"]
    mixed = found[(conventions.MIXED_DTYPES.rule, conventions.GRAD_HELPER)]
    assert mixed["tests"] == 2 and "promoted a float32/float64 mix" in mixed["example"]
    assert "convention: the error names the argument" in done.stdout
    assert "kernels.shapes.check_grad(dy, geometry) meets it" in done.stdout
    assert "kernels.shapes.quiet_nonfinite" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("verify owncheck: PASSED; 6 house")


def test_held_to_the_conventions_the_same_plugin_fails_naming_the_expected_pattern(tmp_path):
    """--strict holds a plug-in as ours are held: it fails (exit 1) on the conventions alone,
    each failure one line saying which pattern the message had to match, and the
    reproduction command keeps the strictness."""
    done = run("owncheck", "--quick", "--strict", "--json", str(tmp_path / "strict.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((tmp_path / "strict.json").read_text())
    assert result["conventions"] == [] and result["failures"]
    assert all(f["message"].startswith("AssertionError: convention: ")
               for f in result["failures"]), [f["message"] for f in result["failures"]]
    dy = next(f for f in result["failures"] if f["test"] == "test_backward_rejects_bad_dy")
    assert "expected a message that names `dy` (regex " in dy["message"]
    assert "got ValueError: 'the gradient does not fit the output'" in dy["message"]
    assert "kernels.shapes.check_grad(dy, geometry) meets it" in dy["message"]
    assert " --convbench-strict " in dy["reproduce"]
    assert {f["category"] for f in result["failures"]} == {"bad inputs", "non-finite",
                                                           "passes apart"}


def test_the_wrong_twin_still_fails_and_its_finite_errors_are_numbers(tmp_path):
    """examples/plugin's wrong twin (backward-data with the kernel flipped) fails with exit 1,
    on backward-data only and on no convention; its worst backward-data error - finite wrong
    values, some where the exact value is 0 - is a number, not 'non-finite'."""
    done = run("wrong", "--quick", "--json", str(tmp_path / "wrong.json"),
               backends="wrong=convbench_example.wrong", path=ROOT / "examples" / "plugin")
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((tmp_path / "wrong.json").read_text())
    assert not result["ok"] and result["totals"]["failed"] > 50
    assert result["conventions"] == []
    assert all("convention:" not in f["message"] for f in result["failures"])
    units = result["worst_error_units"]["backward-data"]
    assert isinstance(units, float) and units > 1e6
    assert result["nonzero_where_exact_is_zero"] == ["backward-data"]
    worst = next(line for line in done.stdout.splitlines() if line.startswith("worst error"))
    assert "non-finite" not in worst and "inf" not in worst.split(":", 1)[1], worst
    assert re.search(r"backward-data \d\.\d+e\+\d+ \(and nonzero", worst), worst


# ----------------------------------------------------------------- in process, no pytest run

@pytest.fixture
def strictness():
    """record.start(strict) for the test, a fresh record afterwards."""
    yield record.start
    record.start()


def test_a_breach_fails_a_backend_held_to_it_with_the_pattern(strictness):
    strictness(True)
    with pytest.raises(AssertionError) as info:
        conventions.check_refusal(TypeError("bad gradient"), TypeError,
                                  all_of(word("dy"), "dtype"), conventions.GRAD_HELPER)
    message = str(info.value)
    assert "\n" not in message and message.startswith("convention: the error names")
    assert "names `dy` and says 'dtype' (regex '(?=" in message
    assert "got TypeError: 'bad gradient'" in message
    assert "kernels.shapes.check_grad(dy, geometry) meets it" in message


def test_a_breach_is_noted_for_a_plugin_and_the_result_lists_it(strictness):
    strictness(False)
    conventions.check_refusal(ValueError("no"), TypeError, word("x"), conventions.CONV_HELPER)
    notes = record.current()
    assert [f["convention"] for f in notes.conventions] == [conventions.ERROR_CLASS.rule,
                                                            conventions.WORDING.rule]
    collector = results.Collector()
    collector.items["t"] = dict(category="bad inputs", test="test_conv_forward_rejects",
                                case="x-3d", node="n", outcome="passed", reason=None,
                                properties=dict(notes.as_properties()))
    result = results.build(collector, name="p", quick=True, command=["c"],
                           info=dict(role="library", origin="register()", passes=["forward"],
                                     not_computed=[]))
    assert result["ok"] and len(result["conventions"]) == 2
    text = results.render(result)
    assert "house conventions not followed" in text
    assert f"convention: {conventions.WORDING.rule} - {conventions.CONV_HELPER} meets it" in text
    assert "e.g. bad inputs / test_conv_forward_rejects[x-3d]: expected a message that " \
           "names `x`" in text
    assert text.endswith("verify p: PASSED; 2 house conventions not followed (listed above, "
                         "not failures)")


@pytest.mark.parametrize("units, shown", [(3.2e16, "forward 3.2e+16"),
                                          (float("nan"), "forward NaN (a NaN where"),
                                          (float("inf"), "forward inf (a non-finite value")])
def test_the_worst_error_line_says_non_finite_only_for_non_finite_values(units, shown):
    collector = results.Collector()
    collector.items["t"] = dict(category="grid", test="t", case="", node="n",
                                outcome="failed", reason=None,
                                properties=dict(worst_error_units={"forward": units}))
    result = results.build(collector, name="p", quick=True, command=["c"],
                           info=dict(role="library", origin="register()", passes=["forward"],
                                     not_computed=[]))
    json.dumps(result, allow_nan=False)  # strict JSON
    text = results.render(result)
    assert shown in text
    assert ("non-finite" in text) == (units == float("inf"))


def test_ours_and_the_framework_wrappers_are_held_to_the_conventions_plugins_are_not():
    assert conventions.held_to_conventions("numba") and conventions.held_to_conventions("naive")
    for name in kernels.available(kernels.LIBRARY):
        if kernels.origin(name) == "framework":
            assert conventions.held_to_conventions(name)
    backend = kernels.get_backend("im2col")
    for role, held in ((kernels.LIBRARY, False), (kernels.ALGORITHM, True)):
        kernels.register("conventions_probe", backend, role=role)
        try:
            assert conventions.held_to_conventions("conventions_probe") is held
        finally:
            plugins.unregister("conventions_probe")
