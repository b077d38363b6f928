"""`python -m kernels fleet`: a sharded `bench` or `map` run launched through submitit (Slurm
job arrays), one shard per exclusive node, then merged.

    python -m kernels fleet --shards 8 --folder runs/map --out map.json --partition cpu \\
        --cpus-per-task 32 -- map --repeats 5
    python -m kernels fleet --shards 2 --folder /tmp/f --out map.json --engine debug -- map --quick

Each shard `i` of `n` runs `python -m kernels COMMAND OPTIONS --shard i/n --json
FOLDER/shard-i-of-n.json` in a fresh interpreter; when all are back, `python -m kernels
merge` joins them into --out (kernels.bench.merge: refused, exit 1, if a shard failed, unless
--partial).

No scheduler of our own: submitit (pinned in the `fleet` extra) submits the shards as one
Slurm job array (`--engine slurm`), or runs them on this machine (`local`: submitit's
LocalExecutor, a subprocess per shard; `debug`: its DebugExecutor, in this process).

Two timings never share a machine:
- slurm: every array task asks for `--exclusive` (submitit's `slurm_exclusive=True`), one
  node and one task: Slurm gives each shard a whole node that no other job - another shard
  or anyone else's - shares while it runs; --cpus-per-task hands the task the node's cores
  (without it Slurm may bind the task to one core, and every shard then times one thread).
- local and debug: the shards run one after another on this one machine, the next one
  submitted only when the previous one has finished.
The merge then checks the shards ran on alike machines (same CPU, cores, threads,
fingerprint), so an array that landed on a mixed partition is refused, not averaged.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ..support.command_line import Parser

PROG = "python -m kernels fleet"
ENGINES = ("slurm", "local", "debug")
COMMANDS = ("bench", "map")
# the shards write their --json where the launcher says; other outputs would be written by
# every node to the same path
OWN_FLAGS = ("--shard", "--json", "--plot", "--roofline", "--breakdown", "--markdown", "--csv",
             "--compare")


def _own(flag: str) -> bool:
    """Whether `flag` is, or abbreviates (argparse takes unique prefixes), a flag the
    launcher sets for each shard."""
    return flag.startswith("--") and len(flag) > 3 and any(f.startswith(flag)
                                                           for f in OWN_FLAGS)


def shard_path(folder, index: int, count: int) -> Path:
    return Path(folder) / f"shard-{index}-of-{count}.json"


def shard_argv(command: str, options, index: int, count: int, folder) -> list[str]:
    """The `python -m kernels` arguments of shard `index` of `count`."""
    return [command, *options, "--shard", f"{index}/{count}",
            "--json", str(shard_path(folder, index, count))]


def run_shard(argv: list[str], cwd: str) -> str:
    """One shard, the job each node runs: `python -m kernels ARGV` in a fresh interpreter
    (the process settings of kernels/__main__.py apply, nothing of the launcher's state
    leaks into the timing); its output, or RuntimeError with the end of its stderr."""
    done = subprocess.run([sys.executable, "-m", "kernels", *argv], cwd=cwd,
                          capture_output=True, text=True)
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"python -m kernels {' '.join(argv)}: exit {done.returncode}: "
                           f"{tail}")
    return done.stdout


def parameters(engine: str, count: int, timeout_min: int, partition=None,
               cpus_per_task=None) -> dict:
    """submitit's AutoExecutor parameters: one task on one node per shard; on Slurm, an
    exclusive node each."""
    params = dict(name="convbench-shard", timeout_min=timeout_min, nodes=1, tasks_per_node=1)
    if cpus_per_task:
        params["cpus_per_task"] = cpus_per_task
    if engine == "slurm":
        params.update(slurm_exclusive=True, slurm_array_parallelism=count)
        if partition:
            params["slurm_partition"] = partition
    return params


def launch(engine, folder, command, options, count, *, timeout_min=120, partition=None,
           cpus_per_task=None, cwd=".", progress=print) -> dict[int, str | None]:
    """Run the `count` shards with submitit's `engine` executor; {index: None when it
    succeeded, else why it failed}."""
    import submitit

    folder = Path(folder).resolve()  # absolute: a node's job may start in another folder
    folder.mkdir(parents=True, exist_ok=True)
    cwd = Path(cwd).resolve()
    executor = submitit.AutoExecutor(folder=folder / "submitit", cluster=engine)
    executor.update_parameters(**parameters(engine, count, timeout_min, partition,
                                            cpus_per_task))
    argvs = [shard_argv(command, options, i, count, folder) for i in range(1, count + 1)]
    outcome = {}

    def wait(index, job):
        try:
            job.result()
            outcome[index] = None
            progress(f"shard {index}/{count} done: {shard_path(folder, index, count)}")
        except Exception as error:  # the job's own failure, reported per shard
            outcome[index] = " ".join(str(error).split())[-500:]
            progress(f"shard {index}/{count} FAILED: {outcome[index]}")

    if engine == "slurm":  # one array, each task on its own exclusive node
        jobs = executor.map_array(run_shard, argvs, [str(cwd)] * count)
        progress(f"submitted Slurm array {jobs[0].job_id.split('_')[0]}: {count} shards")
        for index, job in enumerate(jobs, 1):
            wait(index, job)
    else:  # one machine: one shard at a time
        for index, argv in enumerate(argvs, 1):
            wait(index, executor.submit(run_shard, argv, str(cwd)))
    return outcome


def main(argv=None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, required=True, metavar="N",
                        help="how many shards (Slurm array tasks, one exclusive node each)")
    parser.add_argument("--folder", required=True,
                        help="the shards' JSON files and submitit's logs (on Slurm: a folder "
                             "every node can read and write)")
    parser.add_argument("--out", metavar="OUT.json", help="merge the shards into this file")
    parser.add_argument("--engine", choices=ENGINES, default="slurm",
                        help="slurm (default): a job array; local/debug: this machine, the "
                             "shards one after another")
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--cpus-per-task", type=int, metavar="C",
                        help="the cores of one node (Slurm binds a task to one core otherwise)")
    parser.add_argument("--timeout-min", type=int, default=120,
                        help="minutes one shard may run (default 120)")
    parser.add_argument("--partial", action="store_true",
                        help="merge what came back even if a shard failed, marked partial")
    parser.add_argument("command", choices=COMMANDS, help="what each shard runs")
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="the command's options (after `--`), without --shard or --json")
    args = parser.parse_args(argv)
    options = [o for o in args.options if o != "--"]
    if args.shards < 1 or args.timeout_min < 1:
        parser.error("--shards and --timeout-min must be at least 1")
    if args.cpus_per_task is not None and args.cpus_per_task < 1:
        parser.error("--cpus-per-task must be at least 1")
    if given := [o for o in options if _own(o.split("=")[0])]:
        parser.error(f"{', '.join(given)}: the launcher names each shard's --shard and --json; "
                     "other outputs are drawn from the merged JSON")
    from .output.outputs import output_problem

    if problem := output_problem("--out", args.out):
        parser.error(problem)
    try:
        Path(args.folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"--folder {args.folder}: {error.strerror or error}")
    try:
        import submitit  # noqa: F401
    except ImportError:
        parser.error("the launcher needs submitit: pip install 'convbench[fleet]'")
    failed = {i: why for i, why in launch(args.engine, args.folder, args.command, options,
                                          args.shards, timeout_min=args.timeout_min,
                                          partition=args.partition,
                                          cpus_per_task=args.cpus_per_task).items() if why}
    if failed:
        print(f"{PROG}: {len(failed)} of {args.shards} shards failed: "
              f"{', '.join(map(str, failed))}", file=sys.stderr)
    if not args.out:
        return 1 if failed else 0
    from . import merge

    written = [str(shard_path(args.folder, i, args.shards)) for i in range(1, args.shards + 1)
               if i not in failed]
    if not written:
        return 1
    code = merge.main([args.out, *written, *(["--partial"] if args.partial else [])])
    return code or (1 if failed else 0)
