"""The one rule every command line here keeps: a usage error is one line, exit code 2.

argparse's own `error()` prints the whole usage block before the message. With a dozen flags
that block is a screenful, the one line that says what was wrong ends up last, and a script
or test reading stderr has to dig it out. Here the message is all there is -
`PROG: error: MESSAGE` on stderr, no traceback - and `--help` is still there for the rest.
Exit code 2 is argparse's (and the shell tools') convention for "you called me wrongly",
kept distinct from 1, "the work ran and something failed" (e.g. `verify` finding a bug).

`Parser` is the argparse parser of `python -m kernels bench | map | list | verify` and
`python -m cnn` (its subcommands too: subparsers take the parent's class). `fail` says the
same for an error a command finds after parsing, and returns the code for `main` to return.
"""

from __future__ import annotations

import argparse
import sys

USAGE_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: every error argparse reports ends in `error()`, which
    exits. exit_on_error=False keeps argparse's meaning (the errors it covers are raised as
    ArgumentError for the caller, not printed); no command here passes it."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def fail(prog: str, message) -> int:
    """Print `prog: error: message` as one line on stderr; the exit code of a usage error."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def positive_int(text) -> int:
    """argparse type of a count (images, threads): a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid int") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def thread_count(text) -> int:
    """argparse type of --threads: a count no larger than the cores this process may use
    (more threads than cores only makes BLAS and Numba slower)."""
    from .runtime import usable_cores
    value = positive_int(text)
    if value > usable_cores():
        raise argparse.ArgumentTypeError(
            f"{value} threads, but this process may use {usable_cores()} cores "
            "(more threads than cores only makes BLAS and Numba slower)")
    return value
