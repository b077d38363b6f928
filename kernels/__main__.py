"""python -m kernels bench [options]: see kernels.report (or --help)."""

import sys

if len(sys.argv) < 2 or sys.argv[1] != "bench":
    print("usage: python -m kernels bench [--quick] [--backends ...] [--json PATH] "
          "[--plot PNG] (python -m kernels bench --help for all options)", file=sys.stderr)
    sys.exit(2)

from .report import main  # noqa: E402  (after the usage check: keeps `--help` typos cheap)

sys.exit(main(sys.argv[2:]))
