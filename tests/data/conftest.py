"""Fixtures of the data-layer tests; the helpers live in tiny_data.py (a unique module name)."""

from tiny_data import splits, tiny_file  # noqa: F401  (pytest fixtures)
