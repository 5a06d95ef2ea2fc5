"""Searched parameters: YAML entries -> checked specs -> an Optuna define-by-run space.

A space's ``params`` section maps a dotted config path to a distribution::

    loss.beta:           {type: float, low: 0.0, high: 3.0}
    train.lr:            {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
    distill.temperature: {type: float, low: 0.5, high: 4.0, log: true, when: {distill.method: edam}}
    student.layers:      {type: int, low: 1, high: 4}
    distill.method:      {type: categorical, choices: [edam, logit]}

The vocabulary is Optuna's (float / int / categorical, log, step). ``when`` makes a parameter
conditional on the values of others (one value or a list of allowed values); Optuna's
define-by-run API expresses that directly, so conditional parameters are only sampled when they
apply and TPE never sees a meaningless value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError, short

PARAM_KEYS = {"type", "low", "high", "log", "step", "choices", "when"}
TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class ParamSpec:
    """One searched parameter, already checked."""

    path: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    when: dict[str, tuple] = field(default_factory=dict)

    def distribution(self):
        """This parameter as Optuna's own distribution object (what a study records)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.type == "float":
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return CategoricalDistribution(self.choices)

    def applies(self, values: dict[str, Any]) -> bool:
        """True when every condition holds for the values sampled so far."""
        return all(values.get(path) in allowed for path, allowed in self.when.items())

    def suggest(self, trial) -> Any:
        if self.type == "float":
            return trial.suggest_float(self.path, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_categorical(self.path, list(self.choices))


def parse_params(raw: Any, *, file: str, known_paths: Callable[[str], bool]) -> dict[str, ParamSpec]:
    """Check the ``params`` section and return specs in dependency order.

    Args:
        raw: the YAML value of ``params``.
        file: the space file, named in every error.
        known_paths: tells whether a dotted path exists in the experiment config.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpaceError("must be a mapping of config path -> distribution", file=file, field="params")
    specs = {path: _checked_by_optuna(_parse_one(path, entry, file, known_paths), file)
             for path, entry in raw.items()}
    for spec in specs.values():
        for cond_path in spec.when:
            if cond_path not in specs and not known_paths(cond_path):
                raise SpaceError(f"condition on unknown parameter '{cond_path}'"
                                 + did_you_mean(cond_path, specs), file=file, field=f"params.{spec.path}.when")
    return _dependency_order(specs, file)


def _checked_by_optuna(spec: ParamSpec, file: str) -> ParamSpec:
    """Build the spec as Optuna's distribution: what Optuna's own argument checks refuse (beyond
    the checks above, whose messages say more) becomes one line naming the file and key."""
    try:
        spec.distribution()
    except (ValueError, TypeError) as exc:
        raise SpaceError(f"Optuna refuses this distribution: {exc}", file=file, field=f"params.{spec.path}") from None
    return spec


def _parse_one(path: str, entry: Any, file: str, known_paths) -> ParamSpec:
    where = f"params.{path}"
    if not isinstance(path, str) or not known_paths(path):
        raise SpaceError(f"'{path}' is not a config key that can be searched", file=file, field=where)
    if not isinstance(entry, dict):
        raise SpaceError("must be a mapping such as {type: float, low: 0.1, high: 1.0}", file=file, field=where)
    for key in entry:
        if key not in PARAM_KEYS:
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), PARAM_KEYS), file=file,
                             field=f"{where}.{key}")
    kind = entry.get("type")
    if kind not in TYPES:
        raise SpaceError(f"type must be one of {', '.join(TYPES)}, got {short(kind)}", file=file, field=f"{where}.type")
    when = _parse_when(entry.get("when"), file, where)
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpaceError("categorical needs a non-empty list 'choices'", file=file, field=f"{where}.choices")
        odd = next((c for c in choices if not _is_scalar(c)), None)
        if odd is not None:  # Optuna stores choices in its study: only plain scalars survive that
            raise SpaceError(f"choices must be strings, numbers, booleans or null, got {short(odd)}", file=file,
                             field=f"{where}.choices")
        twice = _repeated(choices)
        if twice is not None:  # Optuna finds a choice by equality: the second copy is never used
            raise SpaceError(f"{short(twice[0])} is listed twice", file=file, field=f"{where}.choices")
        extra = set(entry) - {"type", "choices", "when"}
        if extra:
            raise SpaceError(f"'{sorted(extra)[0]}' does not apply to a categorical parameter", file=file, field=where)
        return ParamSpec(path, kind, choices=tuple(choices), when=when)
    return _parse_numeric(path, kind, entry, when, file, where)


def _parse_numeric(path, kind, entry, when, file, where) -> ParamSpec:
    number = (int, float) if kind == "float" else (int,)
    for key in ("low", "high"):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            need = "a finite number" if kind == "float" else "an integer"
            raise SpaceError(f"'{key}' must be {need}, got {short(value)}", file=file, field=f"{where}.{key}")
    low, high = entry["low"], entry["high"]
    if low > high:
        raise SpaceError(f"inverted range: low {low} > high {high}", file=file, field=where)
    if low == high:
        raise SpaceError(f"empty range: low == high == {low} (fix the value in the config instead)",
                         file=file, field=where)
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"'log' must be true or false, got {short(log)}", file=file, field=f"{where}.log")
    step = entry.get("step")
    if log and low <= 0:
        raise SpaceError(f"log scale needs low > 0, got {low}", file=file, field=f"{where}.low")
    if step is not None:
        if log:
            raise SpaceError("'step' cannot be combined with log scale", file=file, field=f"{where}.step")
        if isinstance(step, bool) or not isinstance(step, number) or not 0 < step <= high - low:
            raise SpaceError(f"'step' must be a positive number no larger than high - low = {high - low:g}, "
                             f"got {short(step)}", file=file, field=f"{where}.step")
    return ParamSpec(path, kind, low=low, high=high, log=log, step=step, when=when)


def _parse_when(raw: Any, file: str, where: str) -> dict[str, tuple]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise SpaceError("'when' must map parameter paths to a value or list of values", file=file,
                         field=f"{where}.when")
    when = {}
    for path, value in raw.items():
        allowed = tuple(value) if isinstance(value, list) else (value,)
        if not isinstance(path, str) or not allowed or not all(_is_scalar(v) for v in allowed):
            raise SpaceError("'when' must map parameter paths to a value or a non-empty list of values, got "
                             f"{short(path)}: {short(value)}", file=file, field=f"{where}.when")
        when[path] = allowed
    return when


def _repeated(choices: list) -> tuple | None:
    """(the first choice equal to an earlier one,) or None; True and 1 are different choices here."""
    for i, choice in enumerate(choices):
        if any(_same(choice, other) for other in choices[:i]):
            return (choice,)
    return None


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def can_take(spec: ParamSpec, value: Any) -> bool:
    """Whether the searched parameter `spec` can ever be sampled as `value` (for `when`)."""
    if spec.type == "categorical":
        return any(_same(value, choice) for choice in spec.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not spec.low <= value <= spec.high:
        return False
    if spec.type == "int":
        return value == int(value) and (int(value) - int(spec.low)) % int(spec.step or 1) == 0
    return True


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _dependency_order(specs: dict[str, ParamSpec], file: str) -> dict[str, ParamSpec]:
    """Order specs so each one's conditions are sampled before it; refuse cycles."""
    ordered: dict[str, ParamSpec] = {}
    pending = dict(specs)
    while pending:
        ready = [p for p, s in pending.items() if all(c in ordered or c not in specs for c in s.when)]
        if not ready:
            raise SpaceError(f"conditions form a cycle among {sorted(pending)}", file=file, field="params")
        for path in ready:
            ordered[path] = pending.pop(path)
    return ordered


class DefineByRun:
    """An Optuna define-by-run space: samples only the parameters whose conditions hold.

    Conditions may also test fixed config values (``constants``), e.g. a temperature that only
    applies when the space's fixed method is edam. A class, not a closure, because Ray pickles
    the searcher (and so this space) into its experiment state for resume.
    """

    def __init__(self, specs: dict[str, ParamSpec], constants: dict[str, Any] | None = None):
        self.specs = dict(specs)
        self.constants = dict(constants or {})

    def __call__(self, trial) -> None:
        values = dict(self.constants)
        for spec in self.specs.values():
            if spec.applies(values):
                values[spec.path] = spec.suggest(trial)
        return None


def define_by_run(specs: dict[str, ParamSpec], constants: dict[str, Any] | None = None) -> DefineByRun:
    return DefineByRun(specs, constants)
