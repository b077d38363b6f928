"""House conventions: what convbench's own backends do beyond computing the right numbers,
told apart from correctness so that a plug-in is not failed for following other rules.

Correctness (every backend, a failure otherwise): the right numbers within the rounding bound,
NaN and inf where the definition puts them, the input dtype out, inputs never modified, a
cache that survives several backward calls, and every bad input refused with a ValueError or
TypeError (accepting it silently, or crashing with another exception, fails) - except a
float32/float64 mix, which a backend may promote if what it computes is right.

Conventions (`CONVENTIONS`: mandatory for the backends whose code ships with convbench - ours
and the framework wrappers - and in `--convbench-strict` runs; for any other backend a breach
is noted, and `python -m kernels verify` lists it under the table without failing the test):
each is met by a helper of `kernels.shapes` (or named way of writing the backend), which
`breach` names in its finding. docs/plugins.md lists them with the reasons for the split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import kernels
from kernels.conformance import record

PREFIX = "convention: "


@dataclass(frozen=True)
class Convention:
    """One house rule: what our backends do, and why it is a convention, not correctness."""
    key: str
    rule: str


WORDING = Convention("wording", "the error names the argument (and the rule it breaks) in the "
                                "contract's words")
ERROR_CLASS = Convention("error class", "a value problem is a ValueError, a type problem a "
                                        "TypeError")
MIXED_DTYPES = Convention("mixed dtypes", "a float32/float64 mix is refused with a TypeError "
                                          "naming the argument, not promoted")
QUIET_NONFINITE = Convention("quiet non-finite", "NaN and inf go through every pass without a "
                                                 "NumPy RuntimeWarning")
RANGE_REASON = Convention("range reason", "a configuration out of the declared range is "
                                          "refused with the reason unsupported() gives")
PASSES_BITWISE = Convention("passes apart bit for bit", "a backward pass asked for alone is bit "
                                                        "for bit the combined call's")
CONVENTIONS = (WORDING, ERROR_CLASS, MIXED_DTYPES, QUIET_NONFINITE, RANGE_REASON,
               PASSES_BITWISE)

# The helper that meets each convention, per kind of call (`breach` names it).
CONV_HELPER = "kernels.shapes.conv2d_geometry(x, w, b, stride=..., padding=..., dilation=..., " \
              "groups=...)"
POOL_HELPER = "kernels.shapes.pool2d_geometry(x, kernel_size, stride=..., padding=...)"
GRAD_HELPER = "kernels.shapes.check_grad(dy, geometry)"
QUIET_HELPER = "kernels.shapes.quiet_nonfinite (a decorator for each pass)"
RANGE_HELPER = "raise ValueError(reason) with reason = self.unsupported(geometry)"
PASSES_HELPER = "one function per gradient, called by the combined and the single-pass call " \
                "alike (as examples/plugin does)"


def held_to_conventions(name: str) -> bool:
    """Whether the backend called `name` must follow the conventions: ours and the framework
    wrappers (their code ships with convbench), not a plug-in."""
    return kernels.is_ours(name) or kernels.origin(name) == "framework"


def breach(convention: Convention, helper: str, detail: str) -> None:
    """The current test saw `convention` broken: an AssertionError saying so (with `helper`,
    the way to meet it, and `detail`, what was seen) when the backend is held to it, else a
    note for verify's list."""
    detail = " ".join(str(detail).split())
    if record.current().strict:
        raise AssertionError(f"{PREFIX}{convention.rule} - {helper} meets it; {detail}")
    record.convention(dict(convention=convention.rule, helper=helper, detail=detail))


class Wording(str):
    """A regex for an error message, with what it asks for in words (for the finding)."""
    description: str

    def __new__(cls, regex: str, description: str):
        self = super().__new__(cls, regex)
        self.description = description
        return self


def word(name: str) -> Wording:
    """Regex: `name` as a whole word (so 'x' does not match inside 'max')."""
    return Wording(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", f"names `{name}`")


def all_of(*patterns) -> Wording:
    """Regex matching a message that contains every pattern, in any order."""
    words = [getattr(p, "description", f"says {p!r}") for p in patterns]
    return Wording("".join(f"(?=[\\s\\S]*{p})" for p in patterns), " and ".join(words))


def describe(pattern) -> str:
    """What a message pattern asks for, with the regex itself."""
    words = getattr(pattern, "description", None)
    return f"{words} (regex {str(pattern)!r})" if words else f"regex {str(pattern)!r}"


def check_refusal(error: BaseException, exc: type, pattern, helper: str) -> None:
    """A refusal (a ValueError or TypeError: the caller checks that) of the contract's class
    and wording, or the breached conventions."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    seen = f"{type(error).__name__}: {message!r}"
    if not isinstance(error, exc):
        breach(ERROR_CLASS, helper, f"expected {exc.__name__}, got {seen}")
    if re.search(pattern, str(error)) is None:
        breach(WORDING, helper, f"expected a message that {describe(pattern)}, got {seen}")
