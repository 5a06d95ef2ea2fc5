"""Fixtures of the import tests; the file builders live in import_fixtures.py (a unique name)."""

from __future__ import annotations

import os

import pytest

from kdsearch.cli import main


@pytest.fixture
def run_cli(capsys):
    """Run `kdsearch ...` in-process; return (exit code, stderr); stdout is left in `run.out`."""

    def run(*argv: str) -> tuple[int, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        run.out = captured.out
        return code, captured.err

    return run


@pytest.fixture
def assert_nothing_written():
    """Assert that a failed import left neither the output nor a staging/temporary file."""

    def check(out) -> None:
        folder, name = os.path.split(os.fspath(out))
        assert not os.path.exists(out)
        assert [f for f in os.listdir(folder) if f.startswith(name)] == []

    return check
