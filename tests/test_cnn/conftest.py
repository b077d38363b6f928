"""Fixtures shared by the cnn command-line tests: a small learnable fake MNIST whose MD5s
pass as the official ones, and in-process runs of `python -m cnn`."""

from __future__ import annotations

import pytest

from cnn import data
from cnn_helpers import make_fake_mnist, official_table_for


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fake-mnist")
    arrays = make_fake_mnist(directory)
    return directory, arrays


@pytest.fixture
def fake_mnist(fake_dir, monkeypatch):
    """The fake data directory, with its files' MD5s patched in as the official ones."""
    directory, arrays = fake_dir
    monkeypatch.setattr(data, "OFFICIAL", official_table_for(directory))
    return directory, arrays
