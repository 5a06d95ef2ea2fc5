"""User-facing errors: one clear message naming the file and the field, exit code 2.

Library code raises `UserError` (or a subclass) for anything the user can fix: a bad space file,
a missing or corrupt dataset, an impossible option. The CLI catches it, prints one line and
exits with `EXIT_USER_ERROR`; it never shows a traceback for these.
"""

from __future__ import annotations

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error in the user's input, reported as one line: `file: field: problem`."""

    def __init__(self, problem: str, *, file: str | None = None, field: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.field = field
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        return ": ".join(parts + [self.problem])


class SpaceError(UserError):
    """A search-space YAML that cannot be run (unknown key, bad range, refused combination)."""


class DataError(UserError):
    """A dataset file that is missing, corrupt, or does not follow the layout."""
