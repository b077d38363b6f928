"""`python -m kernels machine`: the fingerprint in one line, as JSON, and as asv's record."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.bench import fingerprint
from kernels.support import machine, peak

ROOT = Path(__file__).resolve().parents[2]
FAKE = dict(peak={"float32": dict(gflops=123.0, clock_mhz=3000.0, fma_units=2, lanes=8,
                                  vector_bits=256),
                  "float64": dict(gflops=61.5, clock_mhz=3000.0, fma_units=2, lanes=4,
                                  vector_bits=256)},
            bandwidth_gbs=30.0, measured="2026-12-06T00:00:00+00:00", probe_seconds=2.0)


@pytest.fixture
def quick_probe(monkeypatch, tmp_path):
    """A cache of its own and a probe that returns at once (the probe has its own tests)."""
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(peak, "measure", lambda threads: FAKE)


def test_one_line_and_every_key_as_strict_json(quick_probe, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert fingerprint.main(["--threads", "1", "--json", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    info = json.loads(out.read_text())
    assert info["id"] == machine.identity(1)["id"] and info["threads"] == 1
    assert info["peak"]["float32"]["gflops"] == 123.0 and info["bandwidth_gbs"] == 30.0
    assert line == machine.one_line(info)
    assert "peak 123 GF/s f32 at 3.00 GHz, 2 FMA units a core" in line
    assert f"[machine {info['id']}]" in line


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "argument --threads: '0' must be a positive integer"),
    (["--threads", "4096"], "4096 threads, but this process may use"),
    (["--threads", "two"], "is not a valid int"),
    (["--json", "/no/such/folder/m.json"], "directory /no/such/folder does not exist"),
    (["--asv-machine", " "], "--asv-machine: an empty name"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(args, message, quick_probe):
    done = subprocess.run([sys.executable, "-m", "kernels", "machine", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("asv") is None, reason="asv is the [bench] extra")
def test_the_asv_machine_record_carries_the_fingerprint(quick_probe, tmp_path, monkeypatch,
                                                        capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # asv keeps its machines in ~/.asv-machine.json
    monkeypatch.chdir(tmp_path)
    (tmp_path / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())
    assert fingerprint.main(["--threads", "1", "--asv-machine", "node-a"]) == 0
    record = json.loads((tmp_path / ".asv-machine.json").read_text())["node-a"]
    assert record["machine"] == "node-a"
    assert record["cpu"] == machine.one_line(peak.fingerprint(1))
    monkeypatch.chdir(ROOT / "docs")  # no asv.conf.json here
    assert fingerprint.main(["--asv-machine", "node-b"]) == 2
    assert "run it where asv.conf.json is" in capsys.readouterr().err
