"""`python -m kernels` as a user meets it in a terminal: an unknown command named, a usage
error in one line with exit code 2 (every command, `python -m cnn` too), Ctrl-C ending in one
line with exit code 130 and no partial output file, empty output paths refused before anything
is measured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import kernels.bench.algorithm_map as algorithm_map
import kernels.bench.cli as cli
import kernels.bench.report as report

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_an_unknown_command_is_named():
    result = subprocess.run([sys.executable, "-m", "kernels", "foo"], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("python -m kernels: error: unknown command 'foo'\n")


@pytest.mark.parametrize("command", ["bench", "map", "list", "verify", "cnn"])
def test_a_usage_error_is_one_line_and_exit_code_2_in_every_command(command, capsys):
    """argparse's own errors (an option nobody defined) too: every command's parser is
    kernels.support.command_line.Parser, not argparse's with its usage block."""
    import cnn.cli
    import kernels.conformance.verify
    import kernels.listing

    prog, main = {"bench": ("python -m kernels bench", cli.main),
                  "map": ("python -m kernels map", algorithm_map.main),
                  "list": ("python -m kernels list", kernels.listing.main),
                  "verify": ("python -m kernels verify", kernels.conformance.verify.main),
                  "cnn": ("python -m cnn", cnn.cli.main)}[command]
    with pytest.raises(SystemExit) as info:
        main(["--no-such-option"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and err.startswith(f"{prog}: error: ")


@pytest.mark.parametrize("argv", [
    ["bench", "--cases", "std,large", "--backends", "im2col", "--no-torch", "--threads", "1",
     "--repeats", "3", "--sections", "conv"],
    ["map", "--quick", "--no-torch", "--threads", "1", "--repeats", "5"],
], ids=["bench", "map"])
def test_ctrl_c_ends_in_one_line_and_130_without_a_partial_file(argv, tmp_path):
    out = tmp_path / "out.json"
    process = subprocess.Popen([sys.executable, "-m", "kernels", *argv, "--json", str(out)],
                               cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline()  # measuring has begun
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err == f"python -m kernels {argv[0]}: interrupted\n"
    assert os.listdir(tmp_path) == []


def _not_reached(*args, **kwargs):
    raise AssertionError("the measuring started despite an empty output path")


@pytest.mark.parametrize("flag", ["--json", "--plot", "--breakdown", "--roofline",
                                  "--markdown", "--csv"])
def test_bench_refuses_an_empty_output_path_before_measuring(flag, monkeypatch, capsys):
    monkeypatch.setattr(report.runtime, "pin_threads", _not_reached)
    with pytest.raises(SystemExit) as info:
        cli.main(["--cases", "tiny.conv", "--no-torch", flag, ""])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and f"{flag} ''" in err


@pytest.mark.parametrize("flag", ["--json", "--plot"])
def test_map_refuses_an_empty_output_path_before_measuring(flag, monkeypatch, capsys):
    monkeypatch.setattr(algorithm_map.runtime, "pin_threads", _not_reached)
    with pytest.raises(SystemExit) as info:
        algorithm_map.main(["--quick", "--no-torch", flag, ""])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and f"{flag} ''" in err


# ------------------------------------------------------------------ the documented commands

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUTPUT = re.compile(r"(?:--json|--plot|--csv|--markdown|--roofline|--breakdown|--metrics-json"
                    r"|>)\s+([^\s|&;]+)")


def _documented_commands():
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.splitlines():
                command = re.split(r"\s+#", line, maxsplit=1)[0].strip()
                if command:
                    yield page.name, command


def test_no_documented_harness_command_overwrites_the_committed_docs():
    for page, command in _documented_commands():
        if command.startswith("python -m kernels "):
            written = OUTPUT.findall(command)
            assert not [p for p in written if p.startswith("docs/")], (page, command)


def test_the_documented_example_outputs_are_git_ignored():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = {path for _, command in _documented_commands()
               for path in OUTPUT.findall(command)
               if not path.startswith(("docs/", "/", "$")) and path != "PATH"}
    assert outputs  # the pages do show example outputs
    result = subprocess.run(["git", "check-ignore", "--no-index", *sorted(outputs)], cwd=ROOT,
                            capture_output=True, text=True)
    assert sorted(result.stdout.split()) == sorted(outputs)
