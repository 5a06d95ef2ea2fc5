"""Validation of constructor options, shared by models and distillation losses.

Constructors raise `InvalidOption` (a ValueError, so plain Python callers see the usual type);
the builders turn it into a `SpaceError` whose field names the YAML key (`teacher.branch`,
`distill.temperature`), which is what the user has to edit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kdsearch.errors import short


class InvalidOption(ValueError):
    """A constructor option with a value the component cannot use.

    Attributes:
        option: the keyword argument at fault (e.g. ``"branch"``).
        problem: what is wrong, in words.
    """

    def __init__(self, option: str, problem: str):
        self.option = option
        self.problem = problem
        super().__init__(f"{option}: {problem}")


def check_choice(option: str, value: object, allowed: Iterable[object]) -> None:
    """Raise `InvalidOption` unless `value` is one of `allowed` (listed in the message)."""
    allowed = list(allowed)
    if value not in allowed:
        raise InvalidOption(option, f"{short(value)} is not one of {', '.join(map(repr, allowed))}")


def check_positive(option: str, value: float) -> None:
    """Raise `InvalidOption` unless `value` is a finite number > 0 (an infinite temperature or
    scale would silently flatten every softmax it divides)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidOption(option, f"must be a finite number > 0, got {short(value)}")


def check_probability(option: str, value: float) -> None:
    """Raise `InvalidOption` unless `value` is a dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:  # NaN fails too
        raise InvalidOption(option, f"must be a probability in [0, 1), got {short(value)}")


# MulT uses 5 layers per transformer. A model hundreds deep is a typo, and validation, which
# sizes every model (on the meta device, about 5 ms a layer), would take minutes to say so.
MAX_LAYERS = 128


def check_sizes(**sizes: int) -> None:
    """Raise `InvalidOption` unless every keyword is an int >= 1; `heads` must divide `d_model`;
    `layers` is at most `MAX_LAYERS`."""
    for option, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidOption(option, f"must be an integer >= 1, got {short(value)}")
    if sizes.get("layers", 1) > MAX_LAYERS:
        raise InvalidOption("layers", f"must be at most {MAX_LAYERS} (MulT uses 5), got {sizes['layers']}")
    if "heads" in sizes and "d_model" in sizes and sizes["d_model"] % sizes["heads"]:
        raise InvalidOption("heads", f"d_model={sizes['d_model']} is not divisible by heads={sizes['heads']}")


def check_dropouts(**probabilities: float) -> None:
    """`check_probability` on every keyword."""
    for option, value in probabilities.items():
        check_probability(option, value)


def check_flags(**flags: bool) -> None:
    """Raise `InvalidOption` unless every keyword is a bool (YAML's true/false): a string such as
    ``"no"`` is truthy in Python and would silently switch the option on."""
    for option, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidOption(option, f"must be true or false, got {short(value)}")
