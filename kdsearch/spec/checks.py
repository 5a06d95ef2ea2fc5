"""Check a space completely before Ray starts: the settings every kind shares, then the kind's own.

Run before any teacher trains, so a space that cannot work fails in a second with the file and
key named. The kind's checks (`kdsearch.spec.kinds`) build the models on the meta device through
the very functions a trial uses, so what validation accepts is what a trial will build.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kdsearch.errors import SpaceError, UserError, short
from kdsearch.spec import schema
from kdsearch.spec.kinds import kind_of
from kdsearch.spec.search_checks import check_conditions, check_resources, check_search
from kdsearch.spec.values import TORCH_SEEDS, is_number, positive_int, seed

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def check_experiment(space: "Space") -> None:
    """Raise SpaceError (file and key named) for the first thing that cannot run."""
    file, cfg = space.file, space.config
    _check_values(cfg, file)
    check_search(space)
    check_resources(space)
    check_conditions(space)
    kind_of(cfg).check(space)
    _check_searched_values(space)


def _check_values(cfg: dict, file: str) -> None:
    """The settings a trial reads as plain values: task, data source, training, loss weights."""
    if cfg["task"] not in schema.TASKS:
        raise SpaceError(f"must be one of {', '.join(schema.TASKS)}, got {short(cfg['task'])}", file=file, field="task")
    _check_data(cfg["data"], file)
    for section in ("train", "teacher_train"):
        if section in cfg:
            _check_training(cfg[section], file, section, schema.METRICS[cfg["task"]])
    frac = cfg["train"]["labelled_fraction"]
    if not is_number(frac) or not 0 < frac <= 1:
        raise SpaceError(f"must be in (0, 1], got {short(frac)}", file=file, field="train.labelled_fraction")
    seed(cfg["train"]["labelled_seed"], file, "train.labelled_seed", TORCH_SEEDS, "a torch generator's seed")
    for key, weight in (cfg.get("loss") or {}).items():
        if not is_number(weight) or weight < 0:
            raise SpaceError(f"must be a number >= 0, got {short(weight)}", file=file, field=f"loss.{key}")


def _check_data(data: dict, file: str) -> None:
    from kdsearch.data.synthetic import PRESETS

    path, preset = data.get("path"), data.get("synthetic")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise SpaceError(f"must be the path of a dataset file, got {short(path)}", file=file, field="data.path")
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        what = "not a regular file (a folder, pipe or device)" if os.path.exists(os.path.expanduser(path)) else \
            "no such dataset file"
        raise SpaceError(f"{what} {short(path)}", file=file, field="data.path")
    if path is None and (not isinstance(preset, str) or preset not in PRESETS):
        raise SpaceError(f"unknown synthetic preset {short(preset)}; presets: {', '.join(PRESETS)} (or set data.path)",
                         file=file, field="data.synthetic")
    seed(data.get("seed", 0), file, "data.seed", (0, TORCH_SEEDS[1]), "numpy's generator takes seeds >= 0")


def _check_searched_values(space: "Space") -> None:
    """Every value a searched parameter can take passes the checks the fixed value passed: each
    categorical choice, and both ends of a numeric range in the parameter's type (so a float
    search of an integer setting, or a range reaching batch size 0, fails here, not in a trial).
    Numeric model and loss options are built at both ends, with the space's fixed config."""
    from kdsearch.spec.rows import ROW_PARAM

    # A space with rows has no config without one: other parameters are checked on the first.
    some_row = {ROW_PARAM: next(iter(space.rows))} if space.rows else {}
    for path, spec in space.params.items():
        numeric = spec.type != "categorical"
        cast = float if spec.type == "float" else int
        for value in (cast(spec.low), cast(spec.high)) if numeric else spec.choices:
            cfg = space.trial_config({**some_row, path: value})
            try:
                _check_values(cfg, space.file)
                if numeric:
                    kind_of(cfg).check_searched(cfg, space, path)
            except UserError as exc:
                raise SpaceError(f"value {short(value)}: {exc.problem}", file=space.file, field=f"params.{path}") from None
            except (ValueError, TypeError) as exc:
                raise SpaceError(f"value {short(value)}: {exc}", file=space.file, field=f"params.{path}") from None


def _check_training(section: dict, file: str, name: str, metrics: tuple[str, ...]) -> None:
    positive_int(section["epochs"], file, f"{name}.epochs")
    positive_int(section["batch_size"], file, f"{name}.batch_size")
    for key in ("lr", "weight_decay", "grad_clip"):
        value = section[key]
        if not is_number(value) or value < 0 or (key == "lr" and value == 0):
            raise SpaceError(f"must be a {'positive' if key == 'lr' else 'non-negative'} number, got {short(value)}",
                             file=file, field=f"{name}.{key}")
    seed(section["seed"], file, f"{name}.seed", TORCH_SEEDS, "torch.manual_seed and the results table take "
         "64-bit seeds")
    from kdsearch.models.options import InvalidOption
    from kdsearch.train.recipes import check_recipe

    try:  # accumulate, clip_mode, plateau_*, early_stop_* (kdsearch.train.recipes)
        check_recipe(section, metrics)
    except InvalidOption as err:
        raise SpaceError(err.problem, file=file, field=f"{name}.{err.option}") from None
