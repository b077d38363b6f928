"""The README and the docs pages as a contract: the harness commands they show are the ones CI
runs, every relative link leads to a file (and heading) that exists, and every environment
variable the code reads and every installed script is documented on a page the README leads
to."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The README first, then every page of docs/ (the generated report docs/bench.md included:
# its links and commands are held to the same rules).
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
TEXT = {page: page.read_text() for page in PAGES}
CI = (ROOT / ".ci" / "run").read_text()
# Where a reader finds them: the README's map of the docs points at these pages.
ENVIRONMENT_PAGE = ROOT / "docs" / "cnn.md"
SCRIPTS_PAGE = ROOT / "docs" / "cnn.md"

# Harness commands too long for a 15-minute CI, each with what CI runs of the same code path.
OUTSIDE_CI = {
    "python -m kernels bench --cases mnist,std,large,resnet50,mobilenet --backends naive,"
    "strided,im2col,numba,blocked,winograd2x2,winograd4x4,fft,auto,torch --json my-bench.json "
    "--plot my-bench.png --markdown my-bench.md --csv my-bench.csv --roofline my-roofline.png "
    "--breakdown my-breakdown.png": "the full report behind the README's figures, ~31 "
                                    "minutes; CI runs --quick",
    "python -m kernels bench --cases resnet50": "one network set, ~10 minutes; CI runs "
                                                "--cases mobilenet.dw through the same code",
    "python -m kernels map --json my-map.json --plot my-map.png":
        "the full map behind the README's figure; CI runs --quick",
    "python -m kernels bench --backends im2col,numba --cases lenet5 --sections conv,pool":
        "a selection example; CI runs --quick through the same code",
    "pytest tests/test_bench/test_benchmarks.py --benchmark-only":
        "every group, minutes; CI times one group with the same flags",
    "CONVBENCH_FULL=1 pytest tests/test_bench/test_benchmarks.py --benchmark-only":
        "naive takes seconds per round; CI times one group",
    "asv run HASHFILE:commits.txt": "minutes per commit; CI runs the suites with --dry-run",
    "asv run --skip-existing-commits b364292^..main": "as above",
    "asv compare main~1 main": "needs two timed commits",
    "asv publish && python -m kernels asv-offline": "needs timed commits; the localizing is "
                                                    "unit-tested (tests/test_bench)",
    "asv preview": "a server that runs until stopped",
    "python -m kernels bench --cases mnist,resnet50 --sections conv --backends im2col,numba,"
    "blocked,winograd2x2,winograd4x4,fft,auto,torch,jax,tensorflow,onnxruntime --repeats 5 "
    "--json my-libraries.json --markdown my-libraries.md --csv my-libraries.csv":
        "the run behind docs/libraries.*, ~8 minutes; CI times the libraries with --quick, "
        "verify and a one-set bench through the same code",
    "python -m kernels verify tensorflow --quick": "TensorFlow is a 600 MB install; CI "
                                                    "verifies torch, jax and onnxruntime "
                                                    "through the same command",
    "git rev-list --first-parent -n 5 b364292^..main > commits.txt": "only writes the list",
}
HARNESS = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:pytest .*--benchmark|asv |python -m kernels |git )")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _bash_lines(text: str):
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = re.split(r"\s+#", line, maxsplit=1)[0].strip()
            if command:
                yield command


HARNESS_COMMANDS = sorted({(c, _name(page)) for page in PAGES for c in _bash_lines(TEXT[page])
                           if HARNESS.match(c)})


def test_the_pages_show_harness_commands():
    commands = [c for c, _ in HARNESS_COMMANDS]
    assert any(c.startswith("pytest") for c in commands)
    assert any(c.startswith("asv") for c in commands)
    assert any(c.startswith("python -m kernels bench") for c in commands)


@pytest.mark.parametrize("command, page", HARNESS_COMMANDS)
def test_every_harness_command_runs_in_ci(command, page):
    """A command that CI does not run can break silently (it did: all three pytest-benchmark
    commands the README showed exited 4 for a whole release)."""
    in_ci = any(line.strip().startswith(command) for line in CI.splitlines())
    assert in_ci or command in OUTSIDE_CI, f"CI does not run {command!r} (shown in {page})"


def test_the_exemptions_are_still_shown():
    shown = {c for c, _ in HARNESS_COMMANDS}
    assert set(OUTSIDE_CI) <= shown, set(OUTSIDE_CI) - shown


# Links: [text](target) and ![alt](target), outside code blocks and code spans.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _strip_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _prose(text: str) -> str:
    return re.sub(r"`[^`\n]*`", "", _strip_fences(text))


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, a
    repeated heading numbered -1, -2, ..."""
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", _strip_fences(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links():
    for page in PAGES:
        for target in LINK.findall(_prose(TEXT[page])):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):   # http:, https:, mailto: ...
                yield _name(page), target


RELATIVE_LINKS = sorted(set(_relative_links()))


def test_the_pages_have_relative_links():
    assert any(page == "README.md" for page, _ in RELATIVE_LINKS)
    assert any(page.startswith("docs/") for page, _ in RELATIVE_LINKS)


@pytest.mark.parametrize("page, target", RELATIVE_LINKS)
def test_every_relative_link_leads_somewhere(page, target):
    """A page moved or a heading renamed leaves links that lead nowhere; the README's map of
    the docs is only worth something if every link in it and in the pages works."""
    path, _, anchor = target.partition("#")
    source = ROOT / page
    destination = (source.parent / path).resolve() if path else source
    assert destination.exists(), f"{page}: {target} - no file {path}"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination.read_text()), \
            f"{page}: {target} - no heading #{anchor} in {_name(destination)}"


def test_the_readme_leads_to_every_page():
    linked = {(README.parent / t.partition("#")[0]).resolve()
              for p, t in RELATIVE_LINKS if p == "README.md"}
    missing = [_name(page) for page in PAGES[1:] if page.resolve() not in linked]
    assert not missing, f"README.md links to none of {missing}"


def _environment_reads():
    names = set()
    for package in ("kernels", "cnn", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r"environ\.get\(\s*\"([A-Z_]+)\"", text))
            names |= set(re.findall(r"environ\[\"([A-Z_]+)\"\](?!\s*=[^=])", text))
            # A name held in a module constant: environ.get(ENVIRONMENT_VARIABLE, ...).
            constants = dict(re.findall(r"^([A-Z_]+)\s*=\s*\"([A-Z_]+)\"", text, flags=re.M))
            for constant in re.findall(r"environ\.get\(\s*([A-Z_]+)\b", text):
                if constant in constants:
                    names.add(constants[constant])
    return sorted(names)


def test_the_readme_leads_to_the_environment_and_scripts_pages():
    readme = TEXT[README]
    for page in (ENVIRONMENT_PAGE, SCRIPTS_PAGE):
        assert f"]({_name(page)}" in readme, _name(page)


@pytest.mark.parametrize("name", _environment_reads())
def test_every_environment_variable_is_documented(name):
    """In one table a reader can find: docs/cnn.md's "Environment variables"."""
    assert re.search(rf"^\|[^|\n]*`{name}`", ENVIRONMENT_PAGE.read_text(), flags=re.M), \
        f"{name} has no row in {_name(ENVIRONMENT_PAGE)}'s environment table"


def test_every_installed_script_is_documented():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in scripts:
        assert f"`{name}`" in SCRIPTS_PAGE.read_text(), f"{name} is not in {_name(SCRIPTS_PAGE)}"
