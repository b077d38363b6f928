"""python -m kernels verify NAME [--quick] [--strict] [--json FILE]: the conformance suite
against one backend, in this process, on the installed package (no repository checkout
needed).

Prints a table by category (passed, failed, out of the backend's declared range, not computed,
skipped), the worst error of each pass, the declared-range reasons and, per failing test, the
smallest failing configuration with a one-line command that reruns it, and the house
conventions (`conventions`) a plug-in does not follow, each with the helper that meets it -
listed, not failed (--strict: failed, as for our own backends). Exit status 0 when nothing
failed, 1 when something did (wrong numbers), 2 for a usage error (an unknown or unavailable
backend, pytest or Hypothesis missing, an unwritable --json path).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import kernels
from kernels import plugins
from kernels.support.command_line import Parser, fail
from kernels.support.files import atomic_write, writable_problem

PROG = "python -m kernels verify"
EXTRA = "pip install 'convbench[verify]'"


def _parser():
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a backend name (python -m kernels list shows them)")
    parser.add_argument("--quick", action="store_true",
                        help="a reduced grid and fewer Hypothesis examples (for CI)")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    parser.add_argument("--strict", action="store_true",
                        help="hold the backend to the house conventions, as convbench's own "
                             "backends are: a convention not followed fails")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    missing = [m for m in ("pytest", "hypothesis") if importlib.util.find_spec(m) is None]
    if missing:
        return fail(PROG, f"needs {' and '.join(missing)}: {EXTRA}")
    try:
        backend = kernels.get_backend(args.name)
        passes = kernels.passes(backend)
    except (ValueError, TypeError) as error:
        return fail(PROG, str(error))
    if args.json and (problem := writable_problem(args.json)):
        return fail(PROG, problem)
    result = run(args.name, passes, quick=args.quick, strict=args.strict)
    result["machine"] = _machine()
    print(_render(result))
    if args.json:
        text = json.dumps(result, indent=2, allow_nan=False) + "\n"
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return 0 if result["ok"] else 1


def run(name: str, passes, *, quick: bool, strict: bool = False) -> dict:
    """Run the suite against `name` with pytest, in this process; the result document.
    strict: the house conventions fail as they do for our own backends."""
    import pytest

    from kernels import conformance
    from kernels.conformance import results

    options = ["-p", "kernels.conformance.plugin", "--convbench-backend", name,
               *(["--convbench-quick"] if quick else
                 ["--hypothesis-profile", "convbench-verify"]),
               *(["--convbench-strict"] if strict else [])]
    folder = str(Path(conformance.__file__).parent)
    collector = results.Collector()
    output = io.StringIO()  # the table is the output; pytest's own only if pytest broke
    with contextlib.redirect_stdout(output):
        # No cache folder inside the installed package.
        status = pytest.main([folder, *options, "-q", "-p", "no:cacheprovider",
                              "-p", "no:benchmark"], plugins=[collector])
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        collector.collection_errors.append(
            f"pytest exited with {status!r}: " + " | ".join(
                line for line in output.getvalue().splitlines()[-5:] if line.strip()))
    if not collector.items:
        collector.collection_errors.append("no conformance test was collected")
    info = dict(role=kernels.role(name), origin=kernels.origin(name), passes=list(passes),
                not_computed=[p for p in kernels.ALL_PASSES if p not in passes])
    return results.build(collector, name=name, info=info, quick=quick,
                         command=[*_environment_prefix(name), "python", "-m", "pytest",
                                  *options])


def _machine() -> dict:
    """Which machine verified it: the backend's code differs by vector width (blocked's
    block is one register), so a verdict names the ISA it was compiled for (the fingerprint
    of kernels.support.peak, its peak cached per machine)."""
    from kernels.support import peak, runtime
    return peak.fingerprint(runtime.pinned_threads() or runtime.usable_cores())


def _environment_prefix(name) -> list[str]:
    """A plug-in named only by CONVBENCH_BACKENDS exists only with it: the reproduction
    command carries the variable, or it would say 'unknown backend'."""
    if kernels.origin(name) != plugins.ENVIRONMENT_VARIABLE:
        return []
    import os
    import shlex
    value = os.environ.get(plugins.ENVIRONMENT_VARIABLE, "")
    return [f"{plugins.ENVIRONMENT_VARIABLE}={shlex.quote(value)}"]


def _render(result) -> str:
    from kernels.conformance import results
    return results.render(result)
