"""Plain-value tests shared by the checks: YAML gives bools that are ints and NaNs that pass `<`."""

from __future__ import annotations

import math

from kdsearch.errors import SpaceError, short


def positive_int(value, file: str, field: str) -> None:
    if not is_int(value) or value < 1:
        raise SpaceError(f"must be an integer >= 1, got {short(value)}", file=file, field=field)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML's `true` is an int to Python


def is_number(value) -> bool:
    """A finite int or float: NaN passes every `<`/`>` test, so it must be refused by name."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


# What the libraries a run hands seeds to accept (tried, not guessed): Optuna's samplers seed
# numpy's RandomState, which takes 0..2**32-1; torch.manual_seed and torch.Generator take a
# 64-bit integer, and a trial's seed is stored in trials.parquet as int64.
SAMPLER_SEEDS = (0, 2**32 - 1)
TORCH_SEEDS = (-(2**63), 2**63 - 1)


def seed(value, file: str, field: str, bounds: tuple[int, int], used_by: str) -> None:
    """Refuse a seed outside what the library that receives it accepts."""
    low, high = bounds
    if not is_int(value) or not low <= value <= high:
        raise SpaceError(f"must be an integer in [{low}, {high}] ({used_by}), got {short(value)}", file=file,
                         field=field)
