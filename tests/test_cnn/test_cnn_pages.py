"""The pages that document the CNN's command line hold in any clone: no `python -m cnn`
command and no set-up sentence names a folder outside the repository (issue 17, finding 19:
the README's `../shared/mnist` existed only next to the project's own checkout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def cnn_commands(text):
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if re.match(r"\s*(python -m cnn|convbench-cnn)\b", line):
                yield line.strip()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_cnn_command_names_a_folder_outside_the_clone(page):
    for command in cnn_commands(page.read_text()):
        assert "../" not in command, (page.name, command)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_data_set_up_names_no_folder_outside_the_clone(page):
    """How to point the CNN at MNIST: --data-dir or MNIST_DIR with a path of the reader's
    (a link's target, relative to its page, is not a path the reader types)."""
    text = re.sub(r"\]\([^)]*\)", "]", " ".join(page.read_text().split()))
    for sentence in re.split(r"(?<=[.;])\s", text):
        if "MNIST_DIR" in sentence and "CI" not in sentence:
            assert "../" not in sentence, (page.name, sentence)


def test_the_set_up_says_how_to_point_at_the_data():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "--data-dir /path/to/mnist" in text and "MNIST_DIR=/path/to/mnist" in text
