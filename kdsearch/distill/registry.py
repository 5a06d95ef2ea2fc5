"""Distillation losses by the name the search-space YAML uses (`distill.method`)."""

from __future__ import annotations

import inspect

from kdsearch.distill.base import KDLoss
from kdsearch.errors import SpaceError, short
from kdsearch.config import did_you_mean
from kdsearch.models.options import InvalidOption

LOSSES: dict[str, type[KDLoss]] = {}


def register_loss(name: str):
    """Class decorator: make a `KDLoss` subclass buildable as `name`; duplicates are refused."""

    def register(cls: type[KDLoss]) -> type[KDLoss]:
        if name in LOSSES:
            raise ValueError(f"distillation loss {short(name)} is already registered by {LOSSES[name].__qualname__}")
        if not (isinstance(cls, type) and issubclass(cls, KDLoss)):
            raise TypeError(f"{short(cls)} registered as {short(name)} is not a KDLoss subclass")
        cls.name = name
        LOSSES[name] = cls
        return cls

    return register


def loss_options(name: str) -> dict[str, object]:
    """Option name -> default (`inspect.Parameter.empty` when required) of loss `name`."""
    params = list(inspect.signature(LOSSES[name].__init__).parameters.values())[1:]
    return {p.name: p.default for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def option_names() -> frozenset[str]:
    """Every option some registered loss takes: what a `distill.<key>` besides method, level and
    pairs may be."""
    return frozenset().union(*(loss_options(name) for name in LOSSES)) - {"pairs"}


def options_for(name: str, distill: dict) -> dict[str, object]:
    """The keys of a `distill:` section that loss `name` takes (its pairs excluded)."""
    taken = loss_options(name)
    return {key: value for key, value in distill.items() if key in taken and key != "pairs"}


def build_loss(name: str, **options) -> KDLoss:
    """Instantiate the loss registered as `name`.

    Raises:
        SpaceError: unknown method (field `distill.method`), unknown, missing or bad option
            (field `distill.<option>`); the message lists what is allowed.
    """
    if name not in LOSSES:
        raise SpaceError(f"unknown method {short(name)}{did_you_mean(str(name), LOSSES)}; "
                         f"allowed: {', '.join(sorted(LOSSES))}", field="distill.method")
    allowed = loss_options(name)
    for key in options:
        if key not in allowed:
            raise SpaceError(f"unknown option for method {short(name)}{did_you_mean(key, allowed)}; "
                             f"allowed: {', '.join(allowed) or 'none'}", field=f"distill.{key}")
    for key, default in allowed.items():
        if default is inspect.Parameter.empty and key not in options:
            raise SpaceError(f"method {short(name)} needs this option", field=f"distill.{key}")
    try:
        return LOSSES[name](**options)
    except InvalidOption as err:
        raise SpaceError(err.problem, field=f"distill.{err.option}") from err
