"""What a conformance test saw besides passing or failing, for `python -m kernels verify`.

The checks note, per test: the configurations they refused because the backend declared them
out of its range (with the backend's reasons), how many they did compute, the size of the
smallest configuration computed (to name the smallest failing one) and the worst error of
each pass in units of eps(dtype) * sum|terms| (`bounds.error_units`), and the house
conventions the backend did not follow when it is not held to them (`conventions`). The plugin
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
    # passes with a nonzero result where the exact one is 0, a sum of no nonzero terms (no
    # unit to measure it by: `worst` is then over the other elements)
    off_zero: list[str] = field(default_factory=list)
    # House conventions (`conventions`): held to them (a breach fails), or a breach is noted.
    strict: bool = True
    conventions: list[dict] = field(default_factory=list)  # convention, helper, detail

    def as_properties(self) -> list[tuple[str, object]]:
        """The notes as pytest user_properties (name, value) pairs."""
        return [("out_of_range", list(self.out_of_range)), ("in_range", self.in_range),
                ("size", self.smallest), ("worst_error_units", dict(self.worst)),
                ("conventions", list(self.conventions)),
                ("nonzero_where_exact_is_zero", list(self.off_zero))]


_notes = Notes()


def start(strict: bool = True) -> None:
    """Forget what the previous test noted; `strict`: the backend under test is held to the
    house conventions."""
    global _notes
    _notes = Notes(strict=strict)


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


def convention(finding: dict) -> None:
    """A house convention the backend does not follow (`conventions.breach`), once per test."""
    if finding not in _notes.conventions:
        _notes.conventions.append(finding)


def nonzero_where_exact_is_zero(pass_name: str) -> None:
    """A result of `pass_name` is nonzero where the exact value is 0 with no nonzero term."""
    if pass_name not in _notes.off_zero:
        _notes.off_zero.append(pass_name)


def error(pass_name: str, units: float) -> None:
    """The error of one result of `pass_name` (kernels.FORWARD, ...), in error units."""
    if units > _notes.worst.get(pass_name, -1.0) or units != units:
        _notes.worst[pass_name] = units
