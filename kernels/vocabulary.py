"""The words for a convolution's three passes, in one place: every list of passes, table
column, report key and command-line word derives from `Pass` (as benchdnn's one `--dir`
vocabulary serves its command line, code and reports).

Each pass has four spellings, each for one audience:

    member                 value (the name)     key                 short         column
    Pass.FORWARD           forward              forward             fwd           forward ms
    Pass.BACKWARD_DATA     backward-data        backward_data       bwd-data      bwd-data ms
    Pass.BACKWARD_WEIGHTS  backward-weights     backward_weights    bwd-weights   bwd-weights ms

- the value is the pass's name: what a backend declares in PASSES, what `kernels.passes()`
  returns, the keys of `verify`'s JSON, and the label printed in sentences;
- the key is a Python identifier: the bench report's JSON keys and CSV field names
  (docs/report-json.md);
- the short form fits a narrow table: `python -m kernels list` and the per-case tables.

`Pass` is a `str` enum whose members equal their names, so `kernels.FORWARD == "forward"`,
a plug-in may still declare PASSES = ("forward",), and JSON writes a member as its name.
"""

from __future__ import annotations

from enum import Enum


class Pass(str, Enum):
    """One pass of a convolution, iterated in computing order: forward, backward-data,
    backward-weights."""

    FORWARD = "forward", "fwd", "forward"
    BACKWARD_DATA = "backward-data", "bwd-data", "bwd-data"
    BACKWARD_WEIGHTS = "backward-weights", "bwd-weights", "bwd-weights"

    def __new__(cls, name: str, short: str, heading: str):
        member = str.__new__(cls, name)
        member._value_ = name
        member.short = short
        # The per-case tables' word: the short form, except for forward, which already fits
        # as narrow as "bwd-data" (and the tables have always said so).
        member.heading = heading
        return member

    # Read as the plain name everywhere (messages, f-strings, tuples in errors), as the
    # strings these members replace did: an enum repr in a user's error would be noise.
    def __str__(self) -> str:
        return self.value

    __repr__ = str.__repr__
    __format__ = str.__format__

    @property
    def label(self) -> str:
        """The name as printed in sentences: "12% of backward-data"."""
        return self.value

    @property
    def key(self) -> str:
        """The report's JSON key and CSV field stem: forward, backward_data, ..."""
        return self.value.replace("-", "_")

    @property
    def column(self) -> str:
        """The per-case tables' column title: "bwd-data ms"."""
        return f"{self.heading} ms"

    @classmethod
    def from_key(cls, key: str) -> Pass:
        """The pass of a report key ("backward_data"); a ValueError naming `key` otherwise."""
        for member in cls:
            if member.key == key:
                return member
        raise ValueError(f"key must be one of {', '.join(KEYS)}, got {key!r}")


#: The passes' names (today's kernels.ALL_PASSES) and the report's keys, in computing order.
NAMES: tuple[Pass, ...] = tuple(Pass)
KEYS: tuple[str, ...] = tuple(p.key for p in Pass)
