"""One vocabulary for the three passes (kernels.vocabulary.Pass): every list of passes in the
package is the enum's, the public constants are its members, and no module spells a pass
itself - so a fourth spelling cannot creep back in."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import kernels
from kernels import Pass
from kernels.bench.judging import columns, compare, shares
from kernels.bench.output import csv_rows, render
from kernels.bench.measuring import libraries
from kernels.conformance import results
from kernels.vocabulary import KEYS, NAMES

ROOT = Path(__file__).resolve().parents[2]
VOCABULARY = ROOT / "kernels" / "vocabulary.py"
# Any spelling of a backward pass: its name, its key, its short form.
SPELLING = re.compile(r"(backward|bwd)[-_ ](data|weights)")


def test_the_public_constants_are_the_members_and_keep_their_strings():
    assert (kernels.FORWARD, kernels.BACKWARD_DATA, kernels.BACKWARD_WEIGHTS) == tuple(Pass)
    assert kernels.ALL_PASSES == ("forward", "backward-data", "backward-weights")
    assert all(isinstance(p, Pass) for p in kernels.ALL_PASSES)
    # JSON, f-strings and messages read the plain name, as they did before the enum
    assert json.dumps({kernels.BACKWARD_DATA: [kernels.FORWARD]}) == \
        '{"backward-data": ["forward"]}'
    assert f"{kernels.BACKWARD_WEIGHTS}" == str(kernels.BACKWARD_WEIGHTS) == "backward-weights"
    assert repr(kernels.ALL_PASSES) == "('forward', 'backward-data', 'backward-weights')"
    assert Pass("backward-data") is kernels.BACKWARD_DATA  # a plug-in's plain string maps


def test_each_pass_has_its_key_label_and_short_form():
    assert [(p.key, p.label, p.short, p.column) for p in Pass] == [
        ("forward", "forward", "fwd", "forward ms"),
        ("backward_data", "backward-data", "bwd-data", "bwd-data ms"),
        ("backward_weights", "backward-weights", "bwd-weights", "bwd-weights ms")]
    assert all(Pass.from_key(p.key) is p for p in Pass)
    with pytest.raises(ValueError, match="key must be one of"):
        Pass.from_key("backward-data")  # a name is not a key


def test_every_site_lists_the_enums_passes():
    assert NAMES == tuple(Pass) and KEYS == tuple(p.key for p in Pass)
    assert results.PASS_ORDER == NAMES
    assert columns.PASSES == compare.PASSES == shares.PASSES == KEYS
    shown = [c.header for c in columns.CASE_COLUMNS if c.header and c.header.endswith(" ms")]
    assert shown == [p.column for p in Pass]
    assert [f for f in csv_rows.CSV_FIELDS if f.endswith("_ms") and f != "total_ms"] == \
        [f"{k}_ms" for k in KEYS]
    assert [f for f in csv_rows.CSV_FIELDS if f.startswith("conversion_share_")] == \
        [f"conversion_share_{k}" for k in KEYS]


def test_the_sites_read_their_words_from_the_enum(monkeypatch):
    """Renaming a pass's words in the enum renames them at every site: the listing's short
    form, the console's sentences, the summary's pass column."""
    from kernels import listing

    row = dict(name="x", role="library", origin="test", passes=list(kernels.ALL_PASSES),
               status="available", reason=None)
    assert "fwd,bwd-data,bwd-weights" in listing.table([row])
    monkeypatch.setattr(Pass.BACKWARD_DATA, "short", "dgrad")
    assert "fwd,dgrad,bwd-weights" in listing.table([row])
    entry = dict(results={"blocked": dict(conversion_share={"backward_data": 0.25})})
    assert render.conversions(entry) == [("blocked", "25% of backward-data")]
    rows = [dict(case="c", library="torch", library_seconds=1e-3, ours="im2col",
                 ours_seconds=2e-3, ours_over_library=2.0, **{"pass": key})
            for key in (*KEYS, libraries.TOTAL)]
    assert [r[1] for r in libraries.summary_rows(rows)[1]] == [*NAMES, "total"]


def _spelled(path: Path, root: Path = ROOT) -> list[str]:
    """The string constants of a module that spell a backward pass, docstrings left out:
    prose may name a pass, code must take its words from the enum."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings
            and SPELLING.search(node.value)]


def test_no_module_spells_a_pass_outside_the_vocabulary():
    sources = sorted(p for p in (ROOT / "kernels").rglob("*.py") if p != VOCABULARY)
    assert len(sources) > 50  # the walk found the package
    found = [hit for path in sources for hit in _spelled(path)]
    assert not found, "\n".join(found)


def test_the_spelling_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Docstrings may say backward-data."""\nKEYS = ("bwd-data",)\n')
    assert _spelled(module, tmp_path) == ["m.py:2: 'bwd-data'"]
