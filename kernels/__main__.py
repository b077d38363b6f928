"""python -m kernels bench [options]: the side-by-side report (kernels.bench.cli)."""

import sys

USAGE = ("usage: python -m kernels bench [--quick] [--backends ...] [--cases ...] [--json PATH] "
         "[--plot PNG] [--markdown PATH]\n(python -m kernels bench --help for all options)")

if sys.argv[1:2] in (["-h"], ["--help"]):
    print(USAGE)
    sys.exit(0)
if sys.argv[1:2] != ["bench"]:
    print(USAGE, file=sys.stderr)
    sys.exit(2)

from .bench.cli import main  # noqa: E402  (after the usage check: keeps `--help` typos cheap)

sys.exit(main(sys.argv[2:]))
