"""User-facing errors: one clear message naming the file and the field, exit code 2.

Library code raises `UserError` (or a subclass) for anything the user can fix: a bad space file,
a missing or corrupt dataset, an impossible option. The CLI catches it, prints one line and
exits with `EXIT_USER_ERROR`; it never shows a traceback for these.
"""

from __future__ import annotations

import reprlib

EXIT_USER_ERROR = 2
# One line stays readable: a value quoted from a hostile file (a megabyte string, a structure
# of a million aliases) is cut to this many characters.
MAX_LINE = 400

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict, _SHORT.maxset = 2, 6, 6, 4, 6
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def short(value) -> str:
    """`repr(value)` in short form: nested and long values elided with '...', so quoting a value
    in an error message costs O(1) however big or deep the value is."""
    return _SHORT.repr(value)


def one_line(text: str) -> str:
    """`text` as one printable line: control characters (newlines, NUL, escape codes) and
    unpaired surrogates escaped, the whole cut to MAX_LINE characters."""
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return out if len(out) <= MAX_LINE else out[: MAX_LINE - 3] + "..."


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
        return one_line(": ".join(parts + [str(self.problem)]))


class SpaceError(UserError):
    """A search-space YAML that cannot be run (unknown key, bad range, refused combination)."""


class DataError(UserError):
    """A dataset file that is missing, corrupt, or does not follow the layout."""
