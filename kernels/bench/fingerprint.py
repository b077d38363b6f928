"""`python -m kernels machine`: which machine this is, and what it can do, measured.

    python -m kernels machine                      # the fingerprint in one line
    python -m kernels machine --json m.json        # every key (docs/report-json.md's
                                                   # environment.machine), strict JSON
    python -m kernels machine --refresh            # measure the peak again (the cache keeps
                                                   # the higher figure)
    python -m kernels machine --asv-machine NAME   # name this machine for asv with the
                                                   # fingerprint as its `cpu` record

The fingerprint (kernels.support.machine, kernels.support.peak) is what every result of
this project names: the report's JSON, `verify --json`, the CNN's metrics. `--asv-machine`
puts the same line in asv's machine record (`asv machine --cpu ...`), so a fleet's history
site says which ISA, vector width and measured peak each machine's timings come from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from ..support import machine, peak, runtime
from ..support.command_line import Parser, fail, thread_count
from ..support.files import atomic_write, writable_problem

PROG = "python -m kernels machine"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=thread_count, default=runtime.usable_cores(),
                        help="threads the peak is measured on (default: the usable cores)")
    parser.add_argument("--refresh", action="store_true",
                        help="measure the peak again instead of reading the cache")
    parser.add_argument("--json", metavar="FILE", help="write every key as strict JSON")
    parser.add_argument("--asv-machine", metavar="NAME",
                        help="run `asv machine --machine NAME --yes` with the fingerprint "
                             "as its cpu record (needs the [bench] extra)")
    return parser


def asv_command(name: str, info: dict) -> list[str]:
    """The `asv machine` call that records this machine under `name` with the fingerprint
    as its cpu field (asv records the fields a named machine is given)."""
    return ["asv", "machine", "--machine", name, "--cpu", machine.one_line(info), "--yes"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.json and (problem := writable_problem(args.json)):
        return fail(PROG, problem)
    if args.asv_machine is not None and not args.asv_machine.strip():
        return fail(PROG, "--asv-machine: an empty name")
    if args.asv_machine and shutil.which("asv") is None:
        return fail(PROG, "--asv-machine needs asv: pip install 'convbench[bench]'")
    if args.asv_machine and not Path("asv.conf.json").is_file():
        return fail(PROG, "--asv-machine: run it where asv.conf.json is (the project root)")
    runtime.pin_threads(args.threads)
    info = peak.fingerprint(args.threads, refresh=args.refresh)
    print(machine.one_line(info))
    if args.json:
        text = json.dumps(info, indent=2, allow_nan=False) + "\n"
        atomic_write(args.json, lambda f: f.write(text.encode()))
    if args.asv_machine:
        done = subprocess.run(asv_command(args.asv_machine, info), capture_output=True,
                              text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            print(f"{PROG}: asv machine failed: {lines[-1]}")
            return 1
        print(f"asv machine {args.asv_machine!r} recorded")
    return 0
