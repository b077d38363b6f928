"""What a conformance test saw besides passing or failing, for `python -m kernels verify`.

The checks note, per test: the configurations they refused because the backend declared them
out of its range (with the backend's reasons), how many they did compute, the size of the
smallest configuration computed (to name the smallest failing one) and the worst error of
each pass in units of eps(dtype) * sum|terms| (`bounds.error_units`). The pytest plugin
starts a fresh record before each test and attaches it to the test's report. Plain module
state: a test runs in one thread, and nothing here is needed outside a test run.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Notes:
    """One test's observations (see the module docstring)."""
    out_of_range: list[str] = field(default_factory=list)  # reasons, first seen first
    in_range: int = 0
    smallest: int | None = None  # elements of x and w of the smallest configuration tried
    worst: dict[str, float] = field(default_factory=dict)  # pass -> error units

    def as_properties(self) -> list[tuple[str, object]]:
        """The notes as pytest user_properties (name, value) pairs."""
        return [("out_of_range", list(self.out_of_range)), ("in_range", self.in_range),
                ("size", self.smallest), ("worst_error_units", dict(self.worst))]


_notes = Notes()


def start() -> None:
    """Forget what the previous test noted."""
    global _notes
    _notes = Notes()


def current() -> Notes:
    return _notes


def out_of_range(reason: str) -> None:
    """A configuration was refused as declared: the test did not compute it."""
    if reason not in _notes.out_of_range:
        _notes.out_of_range.append(reason)


def in_range(size: int) -> None:
    """A configuration of `size` input elements (x and w) was computed and checked."""
    _notes.in_range += 1
    if _notes.smallest is None or size < _notes.smallest:
        _notes.smallest = size


def error(pass_name: str, units: float) -> None:
    """The error of one result of `pass_name` (kernels.FORWARD, ...), in error units."""
    if units > _notes.worst.get(pass_name, -1.0) or units != units:
        _notes.worst[pass_name] = units
