"""Plain-value tests shared by the checks: YAML gives bools that are ints and NaNs that pass `<`."""

from __future__ import annotations

import math

from kdsearch.errors import SpaceError


def positive_int(value, file: str, field: str) -> None:
    if not is_int(value) or value < 1:
        raise SpaceError(f"must be an integer >= 1, got {value!r}", file=file, field=field)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML's `true` is an int to Python


def is_number(value) -> bool:
    """A finite int or float: NaN passes every `<`/`>` test, so it must be refused by name."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))
