"""Two numbers every backend that chunks its work agrees on: the workspace cap and the
rounding-up division that counts chunks and tiles."""

from __future__ import annotations

#: The memory one call of a backend may take for its scratch arrays (im2col's columns, the
#: transform algorithms' planes) before it works through the batch in chunks; auto also
#: skips a candidate whose own estimate breaks its cap. A backend may declare its own
#: (MAX_WORKSPACE_BYTES); this is the default for all that do not.
WORKSPACE_CAP = 64 * 2**20


def ceil_div(a: int, b: int) -> int:
    """a / b rounded up, for non-negative a and positive b: the count of size-b pieces that
    cover a (tiles, chunks, blocks)."""
    return -(-a // b)
