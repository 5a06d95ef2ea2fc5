"""Shared helpers: the shipped cluster files and broken copies of them in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def variant(tmp_path):
    """Write a copy of a shipped file with text replaced; fail loudly if the text is not there.

    Working from the real files keeps these tests honest when the templates change.
    """

    def make(source: Path, old: str, new: str, name: str = "broken.yaml") -> str:
        text = source.read_text()
        assert old in text, f"{old!r} not in {source.name}: update the test"
        out = tmp_path / name
        out.write_text(text.replace(old, new, 1))
        return str(out)

    return make


@pytest.fixture
def write(tmp_path):
    """Write a YAML text to tmp_path and return its path."""

    def make(text: str, name: str = "cluster.yaml") -> str:
        out = tmp_path / name
        out.write_text(text)
        return str(out)

    return make
