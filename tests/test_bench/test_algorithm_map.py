"""`python -m kernels map`: the data behind the heatmap - who wins each point, by how much
over the runner-up and over PyTorch - checked on fixed fake timings, then end to end on a
tiny sweep."""

from __future__ import annotations

import json

import pytest

from kernels.bench import algorithm_map


@pytest.fixture
def fake_times(monkeypatch):
    """measure_alternated() returns a fixed time per contender: which one runs is read from
    the closure the map hands it (our backends) or marked as PyTorch's."""
    times = {"im2col": 4.0, "numba": 2.0, "strided": 8.0, "torch": 1.0}

    def ours(backend, *arrays):
        return ("ours", backend.name)

    def torch(*arrays):
        return ("ours", "torch")
    monkeypatch.setattr(algorithm_map, "_ours", ours)
    monkeypatch.setattr(algorithm_map, "_torch", torch)
    monkeypatch.setattr(algorithm_map, "measure_alternated", lambda contenders, repeats: {
        name: dict(median=times[step[1]]) for name, step in contenders.items()})
    return times


def test_point_winner_margin_and_torch_ratio(fake_times):
    p = algorithm_map.point(2, 3, 8, 3, ["strided", "im2col", "numba"], True, repeats=1)
    assert p["winner"] == "numba"
    assert p["margin"] == pytest.approx(2.0)       # im2col 4.0 / numba 2.0
    assert p["vs_torch"] == pytest.approx(2.0)     # numba 2.0 / torch 1.0
    assert p["seconds"] == fake_times
    assert p["flops"] == 3 * 2 * 2 * 3 * 3 * 3 * 3 * 8 * 8  # 3 passes x 2*N*F*C*k*k*Ho*Wo


def test_point_without_torch_or_rivals(fake_times):
    p = algorithm_map.point(1, 1, 4, 1, ["im2col"], False, repeats=1)
    assert (p["winner"], p["margin"], p["vs_torch"]) == ("im2col", None, None)


def test_unsupported_backends_are_left_out(fake_times, monkeypatch):
    import dataclasses

    import kernels

    # Capabilities are read once, when a backend loads: change the record the registry holds.
    kernels.get_backend("numba")
    monkeypatch.setattr(kernels.plugins.find("numba"), "capabilities", dataclasses.replace(
        kernels.capabilities("numba"), unsupported=lambda geometry: "not this one"))
    p = algorithm_map.point(1, 2, 4, 3, ["im2col", "numba"], False, repeats=1)
    assert set(p["seconds"]) == {"im2col"} and p["winner"] == "im2col"


def test_a_tiny_map_end_to_end(tmp_path, capsys, monkeypatch):
    """Real timings on a 2x1x1 sweep: every point has every supporting backend, the JSON
    and the PNG are written."""
    monkeypatch.setattr(algorithm_map, "KERNELS", (1, 3))
    monkeypatch.setattr(algorithm_map, "BATCH", 1)
    panels = algorithm_map.sweep(["im2col", "numba"], False, 1, kernels=(1, 3), channels=(2,),
                                 sizes=(6,), batch=1, progress=lambda line: None)
    assert [(p["k"], p["C"]) for p in panels["channels"]] == [(1, 2), (3, 2)]
    assert [(p["k"], p["H"]) for p in panels["size"]] == [(1, 6), (3, 6)]
    for p in panels["channels"] + panels["size"]:
        assert set(p["seconds"]) == {"im2col", "numba"}
        assert p["winner"] == min(p["seconds"], key=p["seconds"].get)
        assert p["margin"] >= 1.0


def test_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(algorithm_map, "sweep", lambda *a, **k: {"channels": [], "size": []})
    # Thread pinning lasts for the process: the report's tests check it in subprocesses.
    monkeypatch.setattr(algorithm_map.runtime, "pin_threads", lambda n: {"threads": n})
    assert algorithm_map.main(["--quick", "--no-torch", "--threads", "1", "--json",
                               str(tmp_path / "m.json"), "--plot", str(tmp_path / "m.png")]) == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["kernels_axis"] == [1, 3, 7] and data["batch"] == algorithm_map.BATCH
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit) as info:
        algorithm_map.main(["--threads", "4096"])
    assert info.value.code == 2
