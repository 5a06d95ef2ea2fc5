"""Checks of a space's `search:` and `resources:` sections: what Tune, ASHA and Optuna are given."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError, short
from kdsearch.results.objective import RULES
from kdsearch.spec import schema
from kdsearch.spec.values import SAMPLER_SEEDS, is_int, is_number, positive_int, seed

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def check_search(space: "Space") -> None:
    file, search, task = space.file, space.search, space.config["task"]
    allowed = schema.METRICS[task]
    if search["metric"] not in allowed:
        raise SpaceError(f"{short(search['metric'])} is not reported for task {task}; choose one of "
                         f"{', '.join(allowed)}" + did_you_mean(str(search["metric"]), allowed),
                         file=file, field="search.metric")
    if search["mode"] not in ("max", "min"):
        raise SpaceError(f"must be max or min, got {short(search['mode'])}", file=file, field="search.mode")
    positive_int(search["num_samples"], file, "search.num_samples")
    if search["objective_epoch"] not in RULES:
        raise SpaceError(f"must be one of {', '.join(RULES)}, got {search['objective_epoch']!r}", file=file,
                         field="search.objective_epoch")
    _check_objectives(search, allowed, file)
    if not is_int(search["max_concurrent"]) or search["max_concurrent"] < 0:
        raise SpaceError("must be an integer >= 0 (0 = as many as resources allow)", file=file,
                         field="search.max_concurrent")
    if not is_int(search["max_failures"]) or search["max_failures"] < -1:
        raise SpaceError("must be an integer >= -1 (-1 = retry forever)", file=file, field="search.max_failures")
    sched = search["scheduler"]
    if not isinstance(sched, dict) or sched.get("name") not in schema.SCHEDULERS:
        raise SpaceError(f"scheduler name must be one of {', '.join(schema.SCHEDULERS)}", file=file,
                         field="search.scheduler.name")
    for key in sched:
        if key not in ("name", "grace_period", "reduction_factor", "brackets"):
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), ("grace_period", "reduction_factor")),
                             file=file, field=f"search.scheduler.{key}")
    epochs = space.config["train"]["epochs"]
    grace = sched.get("grace_period", 1)
    if not is_int(grace) or not 1 <= grace <= max(int(epochs), 1):
        raise SpaceError(f"must be an integer in [1, train.epochs={epochs}], got {short(grace)}", file=file,
                         field="search.scheduler.grace_period")
    _check_asha(sched, epochs, grace, file)
    sampler = search["sampler"]
    if not isinstance(sampler, dict) or sampler.get("name") not in schema.SAMPLERS:
        raise SpaceError(f"sampler name must be one of {', '.join(schema.SAMPLERS)}", file=file,
                         field="search.sampler.name")
    for key in sampler:
        if key not in ("name", "seed", "n_startup_trials"):
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), ("seed", "n_startup_trials")),
                             file=file, field=f"search.sampler.{key}")
    if sampler.get("seed") is not None:
        seed(sampler["seed"], file, "search.sampler.seed", SAMPLER_SEEDS, "numpy's RandomState, which Optuna's "
             "samplers use; or null")
    if sampler["name"] == "grid":
        _check_grid(space)
    startup = sampler.get("n_startup_trials", 0)
    if not is_int(startup) or startup < 0:
        raise SpaceError(f"must be an integer >= 0, got {short(startup)}", file=file, field="search.sampler.n_startup_trials")


# Ray's ASHA keeps one bracket object per bracket and one rung per step of the factor: past a few
# brackets nothing is gained, and a bound keeps a typo (brackets: 1000000) from filling memory.
MAX_BRACKETS = 16


def _check_asha(sched: dict, epochs, grace, file: str) -> None:
    """ASHA's rungs are grace * rf**k below train.epochs: a factor a hair above 1 makes millions
    of them (Ray builds every one, and so do the leaderboard's rung marks), so at most one rung
    per epoch is allowed."""
    rf = sched.get("reduction_factor", 2)
    field = "search.scheduler.reduction_factor"
    if not is_number(rf) or rf <= 1:
        raise SpaceError(f"must be a number > 1, got {short(rf)}", file=file, field=field)
    max_t = max(int(epochs), 1)
    n_rungs = int(math.log(max_t / grace) / math.log(rf)) + 1 if max_t > grace else 1
    if n_rungs > max_t:
        least = (max_t / grace) ** (1 / max(max_t - 1, 1))
        raise SpaceError(f"{short(rf)} makes {n_rungs:,} ASHA rungs in train.epochs={max_t} (at most one per epoch: use a "
                         f"factor >= {math.ceil(least * 100) / 100:g})", file=file, field=field)
    brackets = sched.get("brackets", 1)
    if not is_int(brackets) or not 1 <= brackets <= MAX_BRACKETS:
        raise SpaceError(f"must be an integer in [1, {MAX_BRACKETS}], got {short(brackets)}", file=file,
                         field="search.scheduler.brackets")


def _check_grid(space: "Space") -> None:
    """Optuna's grid (BruteForceSampler) enumerates every value: a float range needs a step."""
    for path, spec in space.params.items():
        if spec.type == "float" and spec.step is None:
            raise SpaceError("the grid sampler tries every value, so a float range needs a 'step' (or make it "
                             "categorical)", file=space.file, field=f"params.{path}")


def _check_objectives(search: dict, allowed, file: str) -> None:
    objectives = search["objectives"]
    if not isinstance(objectives, list):
        raise SpaceError("must be a list of {metric, mode}", file=file, field="search.objectives")
    names = [search["metric"]]
    for i, obj in enumerate(objectives):
        where = f"search.objectives[{i}]"
        if not isinstance(obj, dict) or set(obj) != {"metric", "mode"}:
            raise SpaceError("each objective is {metric: NAME, mode: max|min}", file=file, field=where)
        choices = (*allowed, *schema.FACT_OBJECTIVES)
        if obj["metric"] not in choices:
            raise SpaceError(f"unknown objective {short(obj['metric'])}; choose from {', '.join(choices)}"
                             + did_you_mean(str(obj["metric"]), choices), file=file, field=f"{where}.metric")
        if obj["mode"] not in ("max", "min"):
            raise SpaceError(f"must be max or min, got {short(obj['mode'])}", file=file, field=f"{where}.mode")
        if obj["metric"] in names:
            raise SpaceError(f"{obj['metric']} is already an objective", file=file, field=f"{where}.metric")
        names.append(obj["metric"])


def check_resources(space: "Space") -> None:
    res, file = space.resources, space.file
    cpus, gpus = res["cpus_per_trial"], res["gpus_per_trial"]
    if not is_number(cpus) or cpus <= 0:
        raise SpaceError(f"must be a number > 0, got {short(cpus)}", file=file, field="resources.cpus_per_trial")
    if not is_number(gpus) or gpus < 0:
        raise SpaceError(f"must be a number >= 0, got {short(gpus)}", file=file, field="resources.gpus_per_trial")
    if gpus > 1 and gpus != int(gpus):
        raise SpaceError(f"a fraction of one GPU or a whole number of GPUs, got {gpus}", file=file,
                         field="resources.gpus_per_trial")
    packed = res.get("students_per_worker", 1)
    if isinstance(packed, bool) or not isinstance(packed, int) or packed < 1:
        raise SpaceError(f"must be an integer >= 1, got {packed!r}", file=file, field="resources.students_per_worker")
    shares = res.get("pack_shares_batches", False)
    if not isinstance(shares, bool):
        raise SpaceError(f"must be true or false, got {short(shares)}", file=file, field="resources.pack_shares_batches")


def check_conditions(space: "Space") -> None:
    """Every value a `when` condition names can occur: a value its parameter never takes (or a
    fixed setting never has) would silently leave the conditional parameter unsampled forever."""
    from kdsearch.config import get_path, has_path
    from kdsearch.spec.params import can_take

    for path, spec in space.params.items():
        for cond, allowed in spec.when.items():
            target = space.params.get(cond)
            if target is not None:
                never = next((v for v in allowed if not can_take(target, v)), None)
                if never is not None:
                    raise SpaceError(f"{cond} never takes {short(never)} ({_takes(target)}), so this condition "
                                     "never holds", file=space.file, field=f"params.{path}.when.{cond}")
                continue
            configs = [space.trial_config({"row": row}) for row in space.rows] or [space.config]
            if not all(has_path(cfg, cond) for cfg in configs):  # e.g. a loss option left at its default
                raise SpaceError(f"{cond} is neither searched nor set in this space, so the condition cannot be "
                                 f"tested; set {cond} or search it", file=space.file, field=f"params.{path}.when.{cond}")
            fixed = [get_path(cfg, cond) for cfg in configs]
            if not any(value in allowed for value in fixed):
                raise SpaceError(f"{cond} is fixed to {short(fixed[0])} in this space (not searched), so {path} is "
                                 "never sampled", file=space.file, field=f"params.{path}.when.{cond}")


def _takes(spec) -> str:
    if spec.type == "categorical":
        return "its choices: " + ", ".join(short(c) for c in spec.choices)
    return f"{spec.type} values in [{spec.low}, {spec.high}]" + (f" in steps of {spec.step}" if spec.step else "")
