"""The one aligned-text-table printer (kernels.support.tables): widths, alignment, minimum
widths, no trailing spaces, and its argument errors."""

from __future__ import annotations

import pytest

from kernels.support.tables import aligned


def test_columns_are_as_wide_as_their_widest_cell_and_two_spaces_apart():
    text = aligned(["backend", "ms"], [["im2col", "1.26"], ["fft", "12.60"]], align="lr",
                   indent="  ")
    assert text.split("\n") == ["  backend     ms",
                                "  im2col    1.26",
                                "  fft      12.60"]


def test_a_left_aligned_last_column_is_not_padded():
    text = aligned(None, [("a", "long cell"), ("bbb", "c")])
    assert text.split("\n") == ["a    long cell", "bbb  c"]
    assert not any(line.endswith(" ") for line in text.split("\n"))


def test_minimum_widths_per_column():
    text = aligned(("category", "passed"), [["grid", "3"]], align="lr", min_width=(0, 8))
    assert text.split("\n") == ["category    passed", "grid             3"]


def test_nothing_to_print():
    assert aligned(None, []) == ""


@pytest.mark.parametrize("kwargs, message", [
    (dict(align="c"), "align must be"),
    (dict(align=""), "align must be"),
    (dict(min_width=(1, 2, 3)), "min_width must be"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        aligned(["a", "b"], [["1", "2"]], **kwargs)
