"""Fixtures of the diagnose tests; they live in diag_fixtures.py (a unique module name)."""

from diag_fixtures import tiny_run  # noqa: F401  (pytest fixture)
