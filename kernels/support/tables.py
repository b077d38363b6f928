"""Aligned text tables, the one printer behind every console table: the report's per-case
tables (kernels.bench.output.render), `python -m kernels list`, `python -m kernels verify`'s counts
and the dispatcher's choices after training (cnn).

    aligned(["backend", "ms"], [["im2col", "1.26"], ["fft", "12.60"]], align="lr")

Columns are two spaces apart, as wide as their widest cell (or `min_width`). A left-aligned
last column is not padded, so no line ends in spaces.
"""

from __future__ import annotations

from collections.abc import Sequence


def aligned(headers: Sequence[str] | None, rows: Sequence[Sequence[str]], *,
            align: str = "l", indent: str = "", min_width: int | Sequence[int] = 0) -> str:
    """The header line (if any) and the rows, one line each. `align` has one letter per
    column, "l" or "r"; its last letter holds for the columns after it ("lr": the first
    column left, the rest right). `min_width` is one width for all columns or one each."""
    if not align or set(align) - {"l", "r"}:
        raise ValueError(f"align must be letters 'l' and 'r', got {align!r}")
    lines = ([list(headers)] if headers is not None else []) + [list(r) for r in rows]
    if not lines:
        return ""
    count = max(len(line) for line in lines)
    minimums = [min_width] * count if isinstance(min_width, int) else list(min_width)
    if len(minimums) != count:
        raise ValueError(f"min_width must be one int or {count} ints, got {min_width!r}")
    widths = [max([minimums[i]] + [len(line[i]) for line in lines if i < len(line)])
              for i in range(count)]
    sides = [align[min(i, len(align) - 1)] for i in range(count)]

    def cell(i, text, last):
        if sides[i] == "r":
            return text.rjust(widths[i])
        return text if last else text.ljust(widths[i])
    return "\n".join(indent + "  ".join(cell(i, text, i == len(line) - 1)
                                        for i, text in enumerate(line)) for line in lines)
