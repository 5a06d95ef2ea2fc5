"""Checks of a space's `search:` and `resources:` sections: what Tune, ASHA and Optuna are given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError
from kdsearch.spec import schema
from kdsearch.spec.values import is_int, is_number, positive_int

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def check_search(space: "Space") -> None:
    file, search, task = space.file, space.search, space.config["task"]
    allowed = schema.METRICS[task]
    if search["metric"] not in allowed:
        raise SpaceError(f"{search['metric']!r} is not reported for task {task}; choose one of "
                         f"{', '.join(allowed)}" + did_you_mean(str(search["metric"]), allowed),
                         file=file, field="search.metric")
    if search["mode"] not in ("max", "min"):
        raise SpaceError(f"must be max or min, got {search['mode']!r}", file=file, field="search.mode")
    positive_int(search["num_samples"], file, "search.num_samples")
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
        raise SpaceError(f"must be an integer in [1, train.epochs={epochs}], got {grace!r}", file=file,
                         field="search.scheduler.grace_period")
    rf = sched.get("reduction_factor", 2)
    if not is_number(rf) or rf <= 1:
        raise SpaceError(f"must be a number > 1, got {rf!r}", file=file, field="search.scheduler.reduction_factor")
    brackets = sched.get("brackets", 1)
    if not is_int(brackets) or brackets < 1:
        raise SpaceError(f"must be an integer >= 1, got {brackets!r}", file=file, field="search.scheduler.brackets")
    sampler = search["sampler"]
    if not isinstance(sampler, dict) or sampler.get("name") not in schema.SAMPLERS:
        raise SpaceError(f"sampler name must be one of {', '.join(schema.SAMPLERS)}", file=file,
                         field="search.sampler.name")
    for key in sampler:
        if key not in ("name", "seed", "n_startup_trials"):
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), ("seed", "n_startup_trials")),
                             file=file, field=f"search.sampler.{key}")
    if sampler.get("seed") is not None and not is_int(sampler["seed"]):
        raise SpaceError(f"must be an integer or null, got {sampler['seed']!r}", file=file, field="search.sampler.seed")
    startup = sampler.get("n_startup_trials", 0)
    if not is_int(startup) or startup < 0:
        raise SpaceError(f"must be an integer >= 0, got {startup!r}", file=file, field="search.sampler.n_startup_trials")


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
            raise SpaceError(f"unknown objective {obj['metric']!r}; choose from {', '.join(choices)}"
                             + did_you_mean(str(obj["metric"]), choices), file=file, field=f"{where}.metric")
        if obj["mode"] not in ("max", "min"):
            raise SpaceError(f"must be max or min, got {obj['mode']!r}", file=file, field=f"{where}.mode")
        if obj["metric"] in names:
            raise SpaceError(f"{obj['metric']} is already an objective", file=file, field=f"{where}.metric")
        names.append(obj["metric"])


def check_resources(space: "Space") -> None:
    res, file = space.resources, space.file
    cpus, gpus = res["cpus_per_trial"], res["gpus_per_trial"]
    if not is_number(cpus) or cpus <= 0:
        raise SpaceError(f"must be a number > 0, got {cpus!r}", file=file, field="resources.cpus_per_trial")
    if not is_number(gpus) or gpus < 0:
        raise SpaceError(f"must be a number >= 0, got {gpus!r}", file=file, field="resources.gpus_per_trial")
    if gpus > 1 and gpus != int(gpus):
        raise SpaceError(f"a fraction of one GPU or a whole number of GPUs, got {gpus}", file=file,
                         field="resources.gpus_per_trial")
    packed = res.get("students_per_worker", 1)
    if isinstance(packed, bool) or not isinstance(packed, int) or packed < 1:
        raise SpaceError(f"must be an integer >= 1, got {packed!r}", file=file, field="resources.students_per_worker")
    if packed > 1:
        raise SpaceError("packing several trials into one worker is built as a library (kdsearch.train.packing) but "
                         "not yet wired into Tune (docs/packing.md); use 1", file=file,
                         field="resources.students_per_worker")
