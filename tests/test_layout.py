"""The house rules, checked on the source itself: the layers import only downwards, the
file-level import graph has no cycle, and every source file says what it is for.

Imports are read with `ast`, including those inside functions, so a lazy import that hides
an upward arrow counts like any other. Layers, bottom to top:

    kernels.support  <  kernels.shapes  <  kernels (registry), kernels.cases
        <  kernels.backends  <  kernels.conformance  <  cnn
        <  kernels.bench.measuring  <  kernels.bench.judging  <  kernels.bench.output
        <  kernels.bench (the commands)  <  kernels.__main__, benchmarks
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kernels", "cnn", "benchmarks")
MAX_LINES = 300  # one idea per file, read in one sitting

LAYERS = [  # (module prefix, layer); the longest matching prefix wins
    ("kernels.support", 0),
    ("kernels.shapes", 1),
    ("kernels", 2),
    ("kernels.cases", 2),
    ("kernels.backends", 3),
    ("kernels.conformance", 3.5),  # the suite any backend must pass: above them, below cnn
    ("cnn", 4),
    ("kernels.bench.measuring", 5),  # kernels.bench's rooms, in the order of its index
    ("kernels.bench.judging", 5.25),
    ("kernels.bench.output", 5.5),
    ("kernels.bench", 5.75),  # the commands, on top of the rooms
    ("kernels.__main__", 6),
    ("benchmarks", 6),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources():
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _layer(module: str) -> int | None:
    matches = [(len(prefix), layer) for prefix, layer in LAYERS
               if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1] if matches else None


def _imports(path: Path) -> set[str]:
    """Absolute names of the project modules `path` imports, anywhere in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            # `from . import x` may name a submodule: count both the package and x.
            found.add(prefix)
            found |= {f"{prefix}.{alias.name}" for alias in node.names}
    known = {_module_name(p) for p in _sources()}
    return {name for name in found if name in known and name != module}


GRAPH = {_module_name(p): _imports(p) for p in _sources()}


def test_the_layers_cover_every_module():
    assert all(_layer(m) is not None for m in GRAPH), [m for m in GRAPH if _layer(m) is None]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_or_sideways(module):
    """No module imports one of a higher layer - not even inside a function."""
    upward = sorted(name for name in GRAPH[module] if _layer(name) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports {upward}"


def test_nothing_below_the_measurement_layer_imports_cnn():
    offenders = sorted(m for m, names in GRAPH.items() if m.startswith("kernels")
                       and _layer(m) < 5 and any(n.split(".")[0] == "cnn" for n in names))
    assert not offenders


def test_the_import_graph_has_no_cycle():
    """Depth-first search; a module's package counts as imported when the module is (Python
    runs kernels/__init__.py before kernels/backends/naive.py), so such edges are left out:
    they are not arrows anyone wrote."""
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for name in sorted(GRAPH[module]):
            if module.startswith(name + "."):
                continue
            if state.get(name) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):]
                                                                    + [name]))
            if name not in state:
                visit(name)
        path.pop()
        state[module] = "done"
    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_source_file_states_its_job_and_fits_in_one_sitting(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and docstring.strip(), f"{path.name}: no module docstring"
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines (keep one idea per file)"


def test_the_wheel_takes_every_package():
    """Every folder with an __init__.py under kernels/ and cnn/ is matched by the include
    patterns setuptools uses to build the wheel (fnmatch on dotted names, as its finder
    does): a wheel that left out kernels.bench imported only from a source checkout."""
    tomllib = pytest.importorskip("tomllib")
    from fnmatch import fnmatchcase

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [_module_name(init) for top in ("kernels", "cnn")
                for init in (ROOT / top).rglob("__init__.py")]
    assert {"kernels.bench", "kernels.backends.numba", "kernels.backends.winograd",
            "kernels.conformance"} <= set(packages)
    assert [p for p in packages if not any(fnmatchcase(p, pattern) for pattern in include)] \
        == []


def test_test_module_names_are_unique():
    """pytest imports test modules by basename (the test folders are not packages): two
    files called test_errors.py stopped the whole run at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    names += [p.name for p in (ROOT / "kernels" / "conformance").glob("test_*.py")]
    assert not [n for n in set(names) if names.count(n) > 1]


def test_the_bench_index_names_every_module_in_its_room():
    """kernels/bench/__init__.py's docstring is the room's index: every module is in it, under
    the subpackage it lives in (`measuring/`, ... or the commands, which end the list), and
    nothing it names is missing (an index that went stale was issue 24's finding)."""
    import re

    import kernels.bench as bench
    folder = Path(bench.__file__).parent
    index = bench.__doc__.split("\n\n")[1]
    rooms = re.split(r"^([a-z_]+/|the commands.*)$", index, flags=re.M)[1:]
    sections = dict(zip(rooms[::2], rooms[1::2]))
    subpackages = sorted(p.parent.name + "/" for p in folder.glob("*/__init__.py"))
    assert sorted(s for s in sections if s.endswith("/")) == subpackages
    for room, text in sections.items():
        where = folder / room if room.endswith("/") else folder
        modules = {p.stem for p in where.glob("*.py") if p.stem != "__init__"}
        named = set(re.findall(r"\b([a-z_]+)\b", text))
        listed = set(re.findall(r"^ {4}([a-z_]+)\s", text, re.M))
        assert (room, sorted(modules - named)) == (room, [])
        assert (room, sorted(listed - modules)) == (room, [])
