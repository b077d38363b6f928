"""The asv side: every tracked figure points the way asv reads it, and the published page can
be made to work without internet access (kernels.bench.asv_site)."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from kernels.bench import asv_site

ROOT = Path(__file__).resolve().parents[2]
LOWER_IS_BETTER_UNITS = {"seconds", "bytes", "cores"}


def _tracked():
    """(file, function, unit) for every track_* benchmark in benchmarks/."""
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text())
        units = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute) \
                    and node.targets[0].attr == "unit":
                units[node.targets[0].value.id] = node.value.value
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("track_"):
                yield path.name, node.name, units.get(node.name)


@pytest.mark.parametrize("where, name, unit", list(_tracked()))
def test_tracked_figures_are_lower_is_better(where, name, unit):
    """asv compare and asv publish flag every upward step as a regression: a rate such as
    GF/s would show each speed-up as a regression. Only lower-is-better units are tracked."""
    assert unit in LOWER_IS_BETTER_UNITS, f"{where}: {name} tracks {unit!r}"


def test_the_regression_threshold_suits_a_noisy_machine():
    config = json.loads("\n".join(line for line in (ROOT / "asv.conf.json").read_text()
                                  .splitlines() if not line.strip().startswith("//")))
    assert config["regressions_thresholds"] == {".*": 0.25}
    assert "project_url" not in config  # no made-up address


# ------------------------------------------------------------------ the offline page

def _fake_site(tmp_path):
    """An index.html loading every CDN file as asv 0.6.6's does, and a node_modules with
    a distinct file for each."""
    tags = []
    modules = tmp_path / "node_modules"
    for i, (url, relative) in enumerate(asv_site.CDN_TO_NPM.items()):
        if url.endswith(".css"):
            tags.append(f'<link href="{url}" rel="stylesheet" integrity="sha384-cdn{i}" '
                        'crossorigin="anonymous">')
        else:
            tags.append(f'<script src="{url}" integrity="sha384-cdn{i}" '
                        'crossorigin="anonymous"></script>')
        (modules / relative).parent.mkdir(parents=True, exist_ok=True)
        (modules / relative).write_text(f"/* file {i} */")
    for folder in asv_site.FOLDERS:
        (modules / folder).mkdir(parents=True, exist_ok=True)
        (modules / folder / "glyphicons.woff").write_bytes(b"font")
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<html><head>\n" + "\n".join(tags) +
                                     '\n<script src="asv.js"></script></head></html>')
    return html, modules


def test_localize_points_every_tag_at_a_verified_local_copy(tmp_path):
    html, modules = _fake_site(tmp_path)
    assert asv_site.localize(html, modules) == 0
    text = (html / "index.html").read_text()
    assert "https://" not in text and "http://" not in text
    for relative in asv_site.CDN_TO_NPM.values():
        copy = html / "vendor" / relative
        digest = base64.b64encode(hashlib.sha256(copy.read_bytes()).digest()).decode()
        tag = re.search(r'<[^>]*"vendor/' + re.escape(relative) + r'"[^>]*>', text)[0]
        assert f'integrity="sha256-{digest}"' in tag
    assert (html / "vendor" / asv_site.FOLDERS[0] / "glyphicons.woff").is_file()
    assert '<script src="asv.js"></script>' in text  # asv's own files untouched
    assert asv_site.localize(html, modules) == 0  # a second run changes nothing
    assert (html / "index.html").read_text() == text


def test_localize_refuses_an_unknown_page(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<html>another asv version</html>")
    with pytest.raises(asv_site.SiteError, match="does not load"):
        asv_site.localize(html, tmp_path)
    with pytest.raises(asv_site.SiteError, match="asv publish"):
        asv_site.localize(tmp_path / "missing", tmp_path)


def test_command_line_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(asv_site, "fetch_packages", lambda prefix: tmp_path)
    assert asv_site.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "asv publish" in err


# ------------------------------------------------------------------ the history recipe

FIRST_TIMEABLE = "b364292"  # the packaging fix: before it asv's wheel lacked kernels.bench


def _git(*args):
    import subprocess

    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_history_recipe_takes_only_timeable_commits():
    """The page's asv commit lists and ranges start at the packaging fix: `-n 5 main`
    took commits whose wheel cannot import a benchmark, and asv exited 2 after 28
    tracebacks (issue 17, finding 5)."""
    if _git("cat-file", "-e", FIRST_TIMEABLE + "^{commit}").returncode != 0:
        pytest.skip("no git history here (an sdist or a shallow clone)")
    page = (ROOT / "docs" / "asv-and-pytest-benchmark.md").read_text()
    ranges = re.findall(r"^git rev-list (.+?) > commits\.txt", page, re.M)
    ranges += [f"--first-parent {r}" for r in
               re.findall(r"^asv run --skip-existing-commits (\S+)", page, re.M)]
    assert len(ranges) == 2
    for arguments in ranges:
        listed = _git("rev-list", *arguments.split()).stdout.split()
        assert listed, arguments
        for commit in listed:
            assert _git("merge-base", "--is-ancestor", FIRST_TIMEABLE, commit).returncode == 0, \
                (arguments, commit)


def test_pooling_is_timed_only_by_backends_with_pooling_of_their_own(monkeypatch):
    """asv's pool suites skip a backend that borrows another's pooling (fft and winograd
    use numba's): their rows repeated numba's figures under other names."""
    import kernels

    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is asv's, not an installed package
    from benchmarks.bench_pool import PoolForward

    suite = PoolForward()
    for name in kernels.available():
        backend = kernels.get_backend(name)
        case = "convnet.pool1"
        if getattr(backend, "POOLING_FROM", None):
            with pytest.raises(NotImplementedError, match="pools with"):
                suite.setup(name, case)
    suite.setup("numba", case)  # one with pooling of its own is set up
