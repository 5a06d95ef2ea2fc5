"""Named rows: a space that runs a fixed list of configurations, e.g. paper 000's Table 1.

Some experiments are a table, not a product of choices: Table 1 pairs each teacher configuration
with a few (level, method) combinations, and no set of independent categorical parameters
(one distribution per config path) expresses exactly those rows. A space may therefore list
``rows``, each a name and the dotted config paths it sets::

    rows:
      c5_crd_final:  {teacher.branch: complete, student.config: 5, distill.method: crd, distill.level: final}
      c5_edam_up:    {student.config: 5, student.align: none, distill.method: edam, distill.align: teacher_up}

The loader turns them into one categorical parameter ``row`` (choices in file order), so the grid
sampler runs each row once, TPE can still pick among them, ``when: {row: ...}`` conditions work,
and every row is validated like any other categorical combination. A trial's config is the
space's config with its row's paths set, then its sampled values.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from kdsearch.config import did_you_mean, with_overrides
from kdsearch.errors import SpaceError, short
from kdsearch.spec.params import DefineByRun, ParamSpec

ROW_PARAM = "row"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_UNROWABLE = ("search.", "resources.", "params.", "rows.")


def parse_rows(raw: Any, *, file: str, known_paths: Callable[[str], bool]) -> dict[str, dict[str, Any]]:
    """Check a space's ``rows`` section: row name -> {dotted config path: value}.

    Args:
        raw: the YAML value of ``rows`` (None when absent).
        file: the space file, named in every error.
        known_paths: tells whether a dotted path exists in the experiment config (or is a
            distillation option).

    Raises:
        SpaceError: a bad row name, a row that is not a mapping, or a path that does not exist.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise SpaceError("must map row names to {config path: value} mappings", file=file, field="rows")
    rows: dict[str, dict[str, Any]] = {}
    for name, overrides in raw.items():
        where = f"rows.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SpaceError("a row name is letters, digits, '.', '_' or '-'", file=file, field=where)
        if not isinstance(overrides, dict):
            raise SpaceError("must be a mapping of config path -> value (may be empty: {})", file=file, field=where)
        for path, value in overrides.items():
            if not isinstance(path, str) or path.startswith(_UNROWABLE) or not known_paths(path):
                raise SpaceError(f"'{path}' is not a config key a row can set", file=file, field=f"{where}.{path}")
            if isinstance(value, (dict, list)) and path != "distill.pairs":
                raise SpaceError("a row sets single values (a mapping only for distill.pairs)", file=file,
                                 field=f"{where}.{path}")
        rows[name] = dict(overrides)
    return rows


def attach_rows(params: dict[str, ParamSpec], rows: dict[str, dict], *, file: str) -> dict[str, ParamSpec]:
    """The searched parameters with the ``row`` categorical first (conditions may test it).

    Raises:
        SpaceError: ``row`` is also given in ``params``, or a row sets a searched path (which of
            the two would win is a question a space should not raise).
    """
    if not rows:
        return params
    if ROW_PARAM in params:
        raise SpaceError("'row' is made from the rows section; do not also search it", file=file,
                         field=f"params.{ROW_PARAM}")
    for name, overrides in rows.items():
        for path in overrides:
            if path in params:
                raise SpaceError(f"row {short(name)} sets '{path}', which params also searches; set it in one place",
                                 file=file, field=f"rows.{name}.{path}")
    return {ROW_PARAM: ParamSpec(ROW_PARAM, "categorical", choices=tuple(rows)), **params}


def row_config(config: dict, rows: dict[str, dict], values: dict[str, Any]) -> dict:
    """The experiment config of a trial: `config`, its row's paths, then the sampled `values`.

    ``values[ROW_PARAM]`` names the row (absent when the space has no rows). The name stays in the
    config as a top-level ``row`` key, as it does in a trial's config (Ray's config holds it).
    """
    name = values.get(ROW_PARAM)
    if rows and name not in rows:
        raise SpaceError(f"unknown row {short(name)}{did_you_mean(str(name), rows)}", field=ROW_PARAM)
    return with_overrides(config, {**rows.get(name, {}), **values})


class RowsDefineByRun(DefineByRun):
    """`DefineByRun` that also hands Ray the sampled row's config paths.

    Ray's OptunaSearch merges a dict returned by the define-by-run function into the trial's
    config as constants, so a trial sees ``{"row": name, <the row's paths>: ..., <sampled>}`` and
    `with_overrides(base, config)` builds exactly `row_config`; only ``row`` is an Optuna
    parameter, so TPE and the grid sampler see one categorical.
    """

    def __init__(self, specs: dict[str, ParamSpec], constants: dict[str, Any] | None, rows: dict[str, dict]):
        super().__init__(specs, constants)
        self.rows = dict(rows)

    def __call__(self, trial) -> dict[str, Any] | None:
        values = dict(self.constants)
        for spec in self.specs.values():
            if spec.applies(values):
                values[spec.path] = spec.suggest(trial)
        return dict(self.rows.get(values.get(ROW_PARAM), {})) or None
