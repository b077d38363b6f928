"""The pytest plugin that runs the conformance suite against chosen backends.

    pytest -p kernels.conformance.plugin --pyargs kernels.conformance --convbench-backend NAME

Options: --convbench-backend NAME (repeatable; default every backend `kernels.available()`
lists, as the project's own test run uses it) and --convbench-quick (a reduced grid and
fewer Hypothesis examples: `python -m kernels verify --quick`) and --convbench-strict (every
backend held to the house conventions of `conventions`, as ours always are).

Fixtures: `backend` (each chosen backend), `candidate` (each chosen backend but the
reference: comparing naive with naive would pass by construction; naive is checked against
the independent oracles instead), `naive` and `torch` (skipped when PyTorch is missing).

Each test's observations (`record`) are attached to its report as user_properties, and a
property test that found every drawn configuration out of the backend's declared range is
reported as skipped with those reasons, not as passed.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import settings

import kernels
from kernels import plugins
from kernels.conformance import conventions, record
from kernels.conformance.checks import OUT_OF_RANGE

# verify: derandomized without a database, so its reproduction command replays the example.
settings.register_profile("convbench-verify", max_examples=50, deadline=None,
                          derandomize=True, database=None, print_blob=True)
settings.register_profile("convbench-quick", max_examples=8, deadline=None,
                          derandomize=True, database=None, print_blob=True)
# --convbench-quick keeps one value of these per remaining combination, taking turns.
QUICK_AXES = ("dtype", "bias")
PARAMETER_SET = type(pytest.param(None))
REFERENCE_ONLY = "the reference itself: checked against the SciPy and PyTorch oracles instead"


def pytest_addoption(parser):
    group = parser.getgroup("convbench", "convbench conformance suite")
    group.addoption("--convbench-backend", action="append", default=None, metavar="NAME",
                    help="run the suite against this backend (repeatable; default: every "
                         "available backend)")
    group.addoption("--convbench-quick", action="store_true",
                    help="a reduced grid and fewer Hypothesis examples")
    group.addoption("--convbench-strict", action="store_true",
                    help="hold every backend to the house conventions (a breach fails; by "
                         "default only convbench's own backends are, a plug-in's is noted)")


@pytest.hookimpl(trylast=True)  # after Hypothesis' plugin loads its --hypothesis-profile
def pytest_configure(config):
    explicit = config.getoption("convbench_backend")
    names, unavailable = [], {}
    for name in explicit or kernels.available():
        try:
            kernels.get_backend(name)
        except (ValueError, TypeError) as error:
            if explicit:  # asked for by name: the run cannot do what it was asked
                raise pytest.UsageError(f"--convbench-backend: {error}") from None
            unavailable[name] = str(error)  # a framework or plug-in that cannot load
            continue
        names.append(name)
    if not explicit:  # every registered backend that is not tested, and why
        for entry in plugins.entries():
            if entry.problem is not None and entry.name not in unavailable:
                unavailable[entry.name] = f"backend {entry.name!r} is unavailable: " \
                                          f"{entry.problem}"
    config._convbench_backends = list(dict.fromkeys(names))
    config._convbench_unavailable = unavailable
    if config.getoption("convbench_quick"):
        settings.load_profile("convbench-quick")


class Unavailable(pytest.Item):
    """Stands for the conformance suite of a backend that cannot load: one skipped test
    with the reason, so `pytest -ra` lists what was not tested (a half-installed framework
    or a broken plug-in never stops the others' run)."""

    def __init__(self, *, backend: str, reason: str, **kwargs):
        super().__init__(**kwargs)
        self.backend_name = backend
        self.reason = reason

    def runtest(self):
        pytest.skip(f"conformance suite not run: {self.reason}")

    def reportinfo(self):
        return self.path, None, self.name


def pytest_generate_tests(metafunc):
    """`backend` and `candidate` run over the chosen backends, unless the test itself
    parametrizes that name (a test of the Winograd backends names its own)."""
    names = metafunc.config._convbench_backends
    own = {n.strip() for mark in metafunc.definition.iter_markers("parametrize")
           for n in (mark.args[0].split(",") if isinstance(mark.args[0], str)
                     else mark.args[0])}
    if "backend" in metafunc.fixturenames and "backend" not in own:
        metafunc.parametrize("backend", names, ids=names, indirect=True, scope="session")
    if "candidate" in metafunc.fixturenames and "candidate" not in own:
        candidates = [n for n in names if kernels.role(n) != kernels.REFERENCE]
        params = candidates or [pytest.param(n, marks=pytest.mark.skip(reason=REFERENCE_ONLY))
                                for n in names]
        metafunc.parametrize("candidate", params, ids=candidates or names, indirect=True,
                             scope="session")


@pytest.fixture(scope="session")
def backend(request):
    """Each chosen backend, naive included."""
    return kernels.get_backend(request.param)


@pytest.fixture(scope="session")
def candidate(request):
    """Each chosen backend except the reference."""
    return kernels.get_backend(request.param)


@pytest.fixture(scope="session")
def naive():
    """The reference backend."""
    return kernels.get_backend("naive")


@pytest.fixture(scope="module")
def torch():
    """The torch module, single-threaded for the module: on these tiny tensors intra-op
    threading makes each call ~100x slower (tens of ms instead of ~0.3 ms)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.hookimpl(tryfirst=True)  # before -m and -k deselect, and before conftests mark
def pytest_collection_modifyitems(session, config, items):
    """A run over every backend (no --convbench-backend) gets one skipped item per backend
    that cannot load, `conformance[NAME]`; --convbench-quick: of each test's dtype x bias
    variants keep one, taking turns."""
    unavailable = getattr(config, "_convbench_unavailable", {})
    if unavailable and any({"backend", "candidate"} & set(getattr(item, "fixturenames", ()))
                           for item in items):
        for name, reason in unavailable.items():
            items.append(Unavailable.from_parent(session, name=f"conformance[{name}]",
                                                 nodeid=f"conformance[{name}]", backend=name,
                                                 reason=reason))
    if not config.getoption("convbench_quick"):
        return
    kept, dropped = [], []
    for item in items:
        (kept if _quick_keeps(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _quick_keeps(item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return True
    position, sizes = {}, {}  # each single-name parametrization: the value's index, count
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
        if len(names) == 1 and names[0] in callspec.params:
            values = [v.values[0] if isinstance(v, PARAMETER_SET) else v for v in mark.args[1]]
            chosen = callspec.params[names[0]]
            position[names[0]] = next(i for i, v in enumerate(values) if v is chosen)
            sizes[names[0]] = len(values)
    axes = [a for a in QUICK_AXES if a in position]
    turn = sum(i for name, i in position.items() if name not in axes)
    for axis in axes:
        if position[axis] != turn % sizes[axis]:
            return False
        turn //= sizes[axis]
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    record.start(strict=_held_to_conventions(item))
    yield


def _held_to_conventions(item) -> bool:
    """Whether the test's backend must follow the house conventions (`conventions`): with
    --convbench-strict, or when its code ships with convbench."""
    if item.config.getoption("convbench_strict", default=False):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    name = params.get("backend", params.get("candidate"))
    return not isinstance(name, str) or conventions.held_to_conventions(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call":
        return
    notes = record.current()
    report.user_properties.extend(notes.as_properties())
    if call.excinfo is not None and not report.skipped:
        error = call.excinfo.value
        error = (getattr(error, "exceptions", None) or [error])[0]  # Hypothesis: several
        message = next(iter(str(error).strip().splitlines()), type(error).__name__)
        report.user_properties.append(("message", f"{type(error).__name__}: {message}"))
        example = _falsifying_example("\n".join(getattr(error, "__notes__", ())))
        if example:
            report.user_properties.append(("example", example))
    if report.passed and notes.out_of_range and not notes.in_range:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           "Skipped: " + OUT_OF_RANGE + "; ".join(notes.out_of_range))


def _falsifying_example(text: str) -> str | None:
    """Hypothesis' shrunk example from its note ("Failing test case: test(...)", formerly
    "Falsifying example:"), on one line, without the backend object's repr."""
    match = re.search(r"(?:Failing test case|Falsifying example): \w+\((.*?)\n\)", text, re.S)
    if match is None:
        return None
    arguments = re.sub(r"(?:backend|candidate|torch)=<[^>]*>,?", "", match.group(1))
    return " ".join(arguments.replace("( ", "(").split()).strip(", ")
