"""The README as a contract: the harness commands it shows are the ones CI runs, and every
environment variable the code reads and every installed script is documented there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()

# Harness commands too long for a 15-minute CI, each with what CI runs of the same code path.
OUTSIDE_CI = {
    "python -m kernels bench --json docs/bench.json --plot docs/bench.png --markdown "
    "docs/bench.md --csv docs/bench.csv --roofline docs/roofline.png --breakdown "
    "docs/breakdown.png": "the full report behind the README's figures, ~18 minutes; CI runs "
                          "--quick",
    "python -m kernels bench --cases resnet50": "one network set, ~10 minutes; CI runs "
                                                "--cases mobilenet.dw through the same code",
    "python -m kernels map --json docs/map.json --plot docs/map.png":
        "the full map behind the README's figure; CI runs --quick",
    "python -m kernels bench --backends im2col,numba --cases lenet5 --sections conv,pool":
        "a selection example; CI runs --quick through the same code",
    "pytest tests/test_bench/test_benchmarks.py --benchmark-only":
        "every group, minutes; CI times one group with the same flags",
    "CONVBENCH_FULL=1 pytest tests/test_bench/test_benchmarks.py --benchmark-only":
        "naive takes seconds per round; CI times one group",
    "asv run HASHFILE:commits.txt": "minutes per commit; CI runs the suites with --dry-run",
    "asv run --skip-existing-commits main~10..main": "as above",
    "asv compare main~1 main": "needs two timed commits",
    "asv publish && python -m kernels asv-offline": "needs timed commits; the localizing is "
                                                    "unit-tested (tests/test_bench)",
    "asv preview": "a server that runs until stopped",
    "git rev-list --first-parent -n 5 main > commits.txt": "only writes the list",
}
HARNESS = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:pytest .*--benchmark|asv |python -m kernels |git )")


def _bash_lines():
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            command = re.split(r"\s+#", line, maxsplit=1)[0].strip()
            if command:
                yield command


HARNESS_COMMANDS = [c for c in _bash_lines() if HARNESS.match(c)]


def test_the_readme_shows_harness_commands():
    assert any(c.startswith("pytest") for c in HARNESS_COMMANDS)
    assert any(c.startswith("asv") for c in HARNESS_COMMANDS)
    assert any(c.startswith("python -m kernels bench") for c in HARNESS_COMMANDS)


@pytest.mark.parametrize("command", HARNESS_COMMANDS)
def test_every_harness_command_runs_in_ci(command):
    """A README command that CI does not run can break silently (it did: all three
    pytest-benchmark commands exited 4 for a whole release)."""
    in_ci = any(line.strip().startswith(command) for line in CI.splitlines())
    assert in_ci or command in OUTSIDE_CI, f"CI does not run {command!r}"


def test_the_exemptions_are_still_in_the_readme():
    assert set(OUTSIDE_CI) <= set(HARNESS_COMMANDS), set(OUTSIDE_CI) - set(HARNESS_COMMANDS)


def _environment_reads():
    names = set()
    for package in ("kernels", "cnn", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r"environ\.get\(\s*\"([A-Z_]+)\"", text))
            names |= set(re.findall(r"environ\[\"([A-Z_]+)\"\](?!\s*=[^=])", text))
    return sorted(names)


@pytest.mark.parametrize("name", _environment_reads())
def test_every_environment_variable_is_documented(name):
    assert f"`{name}`" in README


def test_every_installed_script_is_documented():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in scripts:
        assert f"`{name}`" in README, name
