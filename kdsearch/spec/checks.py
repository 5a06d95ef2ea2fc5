"""Cross-field checks of a space: the combinations the models and losses refuse.

Run before Ray starts, so a space that cannot work fails in a second with the key named, not
after a teacher has trained for minutes. Models are instantiated (on CPU, no data) to learn
their transformer pairs and map sizes, which is exactly what a trial will build.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kdsearch.config import did_you_mean
from kdsearch.errors import DataError, SpaceError, UserError
from kdsearch.spec import schema

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def model_defaults(teacher_arch: str = "mult") -> tuple[dict, dict]:
    from kdsearch.models.build import STUDENT_DEFAULTS
    from kdsearch.train.teachers import teacher_defaults

    return teacher_defaults(teacher_arch), dict(STUDENT_DEFAULTS)


@lru_cache(maxsize=None)
def distill_option_names() -> frozenset[str]:
    """Every option some registered loss accepts (what `distill.<key>` may be)."""
    from kdsearch.distill import LOSSES

    names: set[str] = set()
    for cls in LOSSES.values():
        names |= _options_of(cls)
    return frozenset(names)


def _options_of(cls) -> set[str]:
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if n not in ("self", "pairs") and p.kind is not p.VAR_KEYWORD}


def loss_options(method: str, distill: dict) -> dict[str, Any]:
    """The keys of the `distill` section that the loss `method` takes."""
    from kdsearch.distill import LOSSES

    accepted = _options_of(LOSSES[method])
    return {k: v for k, v in distill.items() if k in accepted}


def values_of(space: "Space", path: str) -> list:
    """Every value a path can take in this space: its choices if searched, else the fixed one."""
    from kdsearch.config import get_path

    spec = space.params.get(path)
    if spec is not None and spec.type == "categorical":
        return list(spec.choices)
    return [get_path(space.config, path)]


def check_experiment(space: "Space") -> None:
    """Raise SpaceError (file and key named) for the first thing that cannot run."""
    file, cfg = space.file, space.config
    _check_values(cfg, file)
    _check_search(space)
    _check_resources(space)
    if cfg["kind"] == "dmd":
        _check_dmd(space)
    else:
        _check_distill(space)
    _check_searched_values(space)


def _check_values(cfg: dict, file: str) -> None:
    """The settings a trial reads as plain values: task, data source, training, loss weights."""
    if cfg["task"] not in schema.TASKS:
        raise SpaceError(f"must be one of {', '.join(schema.TASKS)}, got {cfg['task']!r}", file=file, field="task")
    _check_data(cfg["data"], file)
    for section in ("train", "teacher_train"):
        if section in cfg:
            _check_training(cfg[section], file, section, schema.METRICS[cfg["task"]])
    frac = cfg["train"]["labelled_fraction"]
    if not _is_number(frac) or not 0 < frac <= 1:
        raise SpaceError(f"must be in (0, 1], got {frac!r}", file=file, field="train.labelled_fraction")
    if not _is_int(cfg["train"]["labelled_seed"]):
        raise SpaceError(f"must be an integer, got {cfg['train']['labelled_seed']!r}", file=file,
                         field="train.labelled_seed")
    for key, weight in (cfg.get("loss") or {}).items():
        if not _is_number(weight) or weight < 0:
            raise SpaceError(f"must be a number >= 0, got {weight!r}", file=file, field=f"loss.{key}")


def _check_data(data: dict, file: str) -> None:
    from kdsearch.data.synthetic import PRESETS

    path, preset = data.get("path"), data.get("synthetic")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise SpaceError(f"must be the path of a dataset file, got {path!r}", file=file, field="data.path")
    if path is not None and not os.path.isfile(os.path.expanduser(path)):
        raise SpaceError(f"no such dataset file {path!r}", file=file, field="data.path")
    if path is None and (not isinstance(preset, str) or preset not in PRESETS):
        raise SpaceError(f"unknown synthetic preset {preset!r}; presets: {', '.join(PRESETS)} (or set data.path)",
                         file=file, field="data.synthetic")
    if not _is_int(data.get("seed", 0)):
        raise SpaceError(f"must be an integer, got {data.get('seed')!r}", file=file, field="data.seed")


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
                if numeric and path.startswith(("student.", "distill.")) and cfg["kind"] != "dmd":
                    _check_method(cfg, space.file)
                    _check_pairs(cfg, cfg["distill"]["method"], space=space)
            except UserError as exc:
                raise SpaceError(f"value {value!r}: {exc.problem}", file=space.file, field=f"params.{path}") from None
            except (ValueError, TypeError) as exc:
                raise SpaceError(f"value {value!r}: {exc}", file=space.file, field=f"params.{path}") from None


def _check_dmd(space: "Space") -> None:
    """Build the DMD objective of every categorical combination once: bad keys/values named."""
    from kdsearch.spec.combos import categorical_configs
    from kdsearch.spec.model_memory import BYTES_TRAINED, on_meta, parameter_count, refuse_if_too_big
    from kdsearch.train.dmd_objective import DMD_DEFAULTS, build_dmd_objective
    from kdsearch.train.experiment import data_shapes
    from kdsearch.train.tasks import get_task

    for cfg in categorical_configs(space):
        dims, lengths = data_shapes(cfg)
        task = get_task(cfg["task"])

        def size_of(model_cfg: dict) -> int:
            return parameter_count(build_dmd_objective(model_cfg, dims=dims, lengths=lengths, task=task))

        try:
            with on_meta(file=space.file, field="model"):
                params = size_of(cfg["model"])
            refuse_if_too_big(need=BYTES_TRAINED * params, params=params, what="the model",
                              gpus_per_trial=space.resources["gpus_per_trial"], section="model",
                              cfg=cfg["model"], defaults=DMD_DEFAULTS, size_of=size_of, searched=space.params)
        except UserError as exc:
            raise SpaceError(exc.problem, file=space.file, field=exc.field or "model") from None
        except (ValueError, TypeError) as exc:
            raise SpaceError(str(exc), file=space.file, field="model") from None


def _check_search(space: "Space") -> None:
    file, search, task = space.file, space.search, space.config["task"]
    allowed = schema.METRICS[task]
    if search["metric"] not in allowed:
        raise SpaceError(f"{search['metric']!r} is not reported for task {task}; choose one of "
                         f"{', '.join(allowed)}" + did_you_mean(str(search["metric"]), allowed),
                         file=file, field="search.metric")
    if search["mode"] not in ("max", "min"):
        raise SpaceError(f"must be max or min, got {search['mode']!r}", file=file, field="search.mode")
    _positive_int(search["num_samples"], file, "search.num_samples")
    _check_objectives(search, allowed, file)
    if not _is_int(search["max_concurrent"]) or search["max_concurrent"] < 0:
        raise SpaceError("must be an integer >= 0 (0 = as many as resources allow)", file=file,
                         field="search.max_concurrent")
    if not _is_int(search["max_failures"]) or search["max_failures"] < -1:
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
    if not _is_int(grace) or not 1 <= grace <= max(int(epochs), 1):
        raise SpaceError(f"must be an integer in [1, train.epochs={epochs}], got {grace!r}", file=file,
                         field="search.scheduler.grace_period")
    rf = sched.get("reduction_factor", 2)
    if not _is_number(rf) or rf <= 1:
        raise SpaceError(f"must be a number > 1, got {rf!r}", file=file, field="search.scheduler.reduction_factor")
    brackets = sched.get("brackets", 1)
    if not _is_int(brackets) or brackets < 1:
        raise SpaceError(f"must be an integer >= 1, got {brackets!r}", file=file, field="search.scheduler.brackets")
    sampler = search["sampler"]
    if not isinstance(sampler, dict) or sampler.get("name") not in schema.SAMPLERS:
        raise SpaceError(f"sampler name must be one of {', '.join(schema.SAMPLERS)}", file=file,
                         field="search.sampler.name")
    for key in sampler:
        if key not in ("name", "seed", "n_startup_trials"):
            raise SpaceError(f"unknown key '{key}'" + did_you_mean(str(key), ("seed", "n_startup_trials")),
                             file=file, field=f"search.sampler.{key}")
    if sampler.get("seed") is not None and not _is_int(sampler["seed"]):
        raise SpaceError(f"must be an integer or null, got {sampler['seed']!r}", file=file, field="search.sampler.seed")
    startup = sampler.get("n_startup_trials", 0)
    if not _is_int(startup) or startup < 0:
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


def _check_resources(space: "Space") -> None:
    res, file = space.resources, space.file
    cpus, gpus = res["cpus_per_trial"], res["gpus_per_trial"]
    if not _is_number(cpus) or cpus <= 0:
        raise SpaceError(f"must be a number > 0, got {cpus!r}", file=file, field="resources.cpus_per_trial")
    if not _is_number(gpus) or gpus < 0:
        raise SpaceError(f"must be a number >= 0, got {gpus!r}", file=file, field="resources.gpus_per_trial")
    if gpus > 1 and gpus != int(gpus):
        raise SpaceError(f"a fraction of one GPU or a whole number of GPUs, got {gpus}", file=file,
                         field="resources.gpus_per_trial")


def _check_training(section: dict, file: str, name: str, metrics: tuple[str, ...]) -> None:
    _positive_int(section["epochs"], file, f"{name}.epochs")
    _positive_int(section["batch_size"], file, f"{name}.batch_size")
    for key in ("lr", "weight_decay", "grad_clip"):
        value = section[key]
        if not _is_number(value) or value < 0 or (key == "lr" and value == 0):
            raise SpaceError(f"must be a {'positive' if key == 'lr' else 'non-negative'} number, got {value!r}",
                             file=file, field=f"{name}.{key}")
    if not _is_int(section["seed"]):
        raise SpaceError(f"must be an integer, got {section['seed']!r}", file=file, field=f"{name}.seed")
    from kdsearch.models.options import InvalidOption
    from kdsearch.train.recipes import check_recipe

    try:  # accumulate, clip_mode, plateau_*, early_stop_* (kdsearch.train.recipes)
        check_recipe(section, metrics)
    except InvalidOption as err:
        raise SpaceError(err.problem, file=file, field=f"{name}.{err.option}") from None


def _positive_int(value, file: str, field: str) -> None:
    if not _is_int(value) or value < 1:
        raise SpaceError(f"must be an integer >= 1, got {value!r}", file=file, field=field)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML's `true` is an int to Python


def _is_number(value) -> bool:
    """A finite int or float: NaN passes every `<`/`>` test, so it must be refused by name."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _check_distill(space: "Space") -> None:
    """For every structure the space can build (each categorical combination, each row): method
    known, level allowed, options used by some method, pairs present, map sizes the loss can
    align; the loss is built and bound to the models, so what it refuses is refused here."""
    from kdsearch.spec.combos import categorical_configs

    file, distill = space.file, space.config["distill"]
    for key in distill:
        if key not in ("method", "level", "pairs") and key not in distill_option_names():
            raise SpaceError(f"unknown key '{key}'"
                             + did_you_mean(str(key), distill_option_names() | {"method", "level", "pairs"}),
                             file=file, field=f"distill.{key}")
    for path, spec in space.params.items():
        if path.startswith(("teacher.", "teacher_train.")) and spec.type != "categorical":
            raise SpaceError("teacher settings can only be searched as categorical choices (each choice is "
                             "one teacher, trained once)", file=file, field=f"params.{path}")
    configs = categorical_configs(space)
    for cfg in configs:  # methods first: option checks below would misreport an unknown method
        _check_method(cfg, file)
    _check_options_used(space, configs)
    checked = set()
    for cfg in configs:
        method = cfg["distill"]["method"]
        where = f"row {cfg['row']!r}: " if "row" in cfg else ""
        key = json.dumps([cfg["teacher"], cfg["student"], cfg["distill"], cfg["task"]], sort_keys=True, default=str)
        if key in checked:
            continue
        checked.add(key)
        try:
            _check_pairs(cfg, method, space=space)  # builds the models: a non-bool attn_mask is refused there
            _check_same_mask(cfg)
        except DataError:
            raise  # the dataset file is at fault, and its message names it
        except UserError as exc:
            raise SpaceError(where + exc.problem, file=file, field=exc.field or "distill") from None
        except (ValueError, TypeError) as exc:
            raise SpaceError(where + str(exc), file=file, field="distill") from None


def _check_same_mask(cfg: dict) -> None:
    """Distilled attention maps are comparable only under one mask rule (METHODS §4.5): a masked
    teacher map has zeros where the unmasked student's has mass, and EDAM would punish that."""
    if cfg["distill"]["level"] != "attention_maps":
        return
    teacher_mask, student_mask = cfg["teacher"].get("attn_mask", True), cfg["student"].get("attn_mask", True)
    if teacher_mask != student_mask:
        raise SpaceError(f"attention maps are distilled, so teacher and student need the same mask rule; "
                         f"teacher.attn_mask is {str(teacher_mask).lower()}, student.attn_mask is "
                         f"{str(student_mask).lower()}", field="student.attn_mask")


def _check_method(cfg: dict, file: str) -> None:
    """Method registered, level allowed, pairs a mapping of names (or null) in one config."""
    from kdsearch.distill import LOSSES

    method, level, pairs = cfg["distill"]["method"], cfg["distill"]["level"], cfg["distill"]["pairs"]
    where = f"row {cfg['row']!r}: " if "row" in cfg else ""
    if not isinstance(method, str) or method not in LOSSES:
        raise SpaceError(f"{where}unknown method {method!r}; registered: {', '.join(sorted(LOSSES))}"
                         + did_you_mean(str(method), LOSSES), file=file, field="distill.method")
    if not isinstance(level, str) or level not in LOSSES[method].levels:
        raise SpaceError(f"{where}method {method} cannot distil at level {level!r}; it allows "
                         f"{', '.join(sorted(LOSSES[method].levels))}", file=file, field="distill.level")
    from kdsearch.distill import loss_options as accepted

    if pairs is not None and "pairs" not in accepted(method):
        raise SpaceError(f"{where}method {method} distils the model outputs and takes no transformer pairs; "
                         f"remove distill.pairs or pick a method that pairs transformers "
                         f"({', '.join(sorted(m for m in LOSSES if 'pairs' in accepted(m)))})", file=file,
                         field="distill.pairs")
    if pairs is not None and not (isinstance(pairs, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                                 for k, v in pairs.items())):
        raise SpaceError(f"{where}must map student transformers to teacher ones, e.g. {{'V<-L': 'V<-L'}}, or be "
                         f"null, got {pairs!r}", file=file, field="distill.pairs")


def _check_options_used(space: "Space", configs: list[dict]) -> None:
    """Refuse a distill option that no method of the space takes (e.g. `align` with only crd):
    it would be silently ignored, and the user believes it is in effect."""
    from kdsearch.distill import LOSSES

    methods = sorted({c["distill"]["method"] for c in configs if c["distill"]["method"] in LOSSES})
    taken = set().union(*(_options_of(LOSSES[m]) for m in methods)) if methods else set()
    for cfg in configs:
        for key in cfg["distill"]:
            if key not in ("method", "level", "pairs") and key in distill_option_names() and key not in taken:
                takers = sorted(m for m, cls in LOSSES.items() if key in _options_of(cls))
                raise SpaceError(f"no method this space runs ({', '.join(methods)}) takes '{key}'; it is an option "
                                 f"of {', '.join(takers)}", file=space.file, field=f"distill.{key}")


def _check_pairs(cfg: dict, method: str, space: "Space | None" = None) -> None:
    """Build the models and the loss of `cfg` on the meta device (sizes, no storage), check
    the pairs and what the loss can align, then that training them fits in memory."""
    from kdsearch.spec.model_memory import on_meta

    with on_meta(file=None, field="student"):
        teacher, student, loss = _bind_pairs(cfg, method)
    _check_fits(cfg, teacher, student, loss, space)


def _check_fits(cfg: dict, teacher, student, loss, space: "Space | None") -> None:
    """Peak training memory of a trial: the teacher trained alone, or frozen beside the student
    and the loss's heads; the bigger of the two phases names its model as the culprit."""
    from kdsearch.models.build import STUDENT_DEFAULTS, build_student
    from kdsearch.train.teachers import build_any_teacher, split_arch, teacher_defaults
    from kdsearch.spec.model_memory import BYTES_FROZEN, BYTES_TRAINED, parameter_count, refuse_if_too_big
    from kdsearch.train.experiment import data_shapes
    from kdsearch.train.tasks import get_task

    n_teacher, n_student = parameter_count(teacher), parameter_count(student, loss)
    teacher_phase, distill_phase = BYTES_TRAINED * n_teacher, BYTES_FROZEN * n_teacher + BYTES_TRAINED * n_student
    dims, lengths = data_shapes(cfg)
    n_out = get_task(cfg["task"]).n_out
    if teacher_phase >= distill_phase:
        section, params, defaults = "teacher", n_teacher, teacher_defaults(split_arch(cfg["teacher"])[0])

        def size_of(c: dict) -> int:
            return parameter_count(build_any_teacher(c, dims=dims, lengths=lengths, n_out=n_out))
    else:
        section, params, defaults = "student", n_student, STUDENT_DEFAULTS

        def size_of(c: dict) -> int:
            return parameter_count(build_student(c, dims=dims, lengths=lengths, n_out=n_out))
    refuse_if_too_big(need=max(teacher_phase, distill_phase), params=params, what=f"the {section}",
                      gpus_per_trial=space.resources["gpus_per_trial"] if space else 0.0, section=section,
                      cfg=cfg[section], defaults=defaults, size_of=size_of, searched=space.params if space else ())


def _bind_pairs(cfg: dict, method: str):
    """(teacher, student, loss) of `cfg`, the loss bound to the models as a trial binds it."""
    from kdsearch.distill import build_loss
    from kdsearch.models.options import InvalidOption
    from kdsearch.train.experiment import build_models, default_pairs

    teacher, student = build_models(cfg)
    pairs = cfg["distill"]["pairs"] or default_pairs(cfg)
    for s_pair, t_pair in pairs.items():
        if s_pair not in student.pair_names:
            raise SpaceError(f"student has no transformer {s_pair!r}; it has {', '.join(student.pair_names)}",
                             field="distill.pairs")
        if t_pair not in teacher.pair_names:
            raise SpaceError(f"teacher has no transformer {t_pair!r}; it has {', '.join(teacher.pair_names)}",
                             field="distill.pairs")
    from kdsearch.distill import loss_options as accepted

    # Pairs go to the losses that take them (logit KD distils the outputs, it has no pairs).
    given = {"pairs": pairs} if "pairs" in accepted(method) else {}
    loss = build_loss(method, **given, **loss_options(method, cfg["distill"]))
    if hasattr(loss, "bind"):
        # The loss checks what it can align (EDAM: equal maps, or teacher_up; CRD: any sizes) and
        # builds its heads from the models' shapes, exactly as a trial will.
        try:
            loss.bind(student=student, teacher=teacher)
            if hasattr(loss, "check_train_size"):  # CRD: K negatives below the training-set size
                from kdsearch.data.source import train_size

                loss.check_train_size(train_size(cfg["data"]))
        except InvalidOption as err:
            raise SpaceError(err.problem, field=f"distill.{err.option}") from None
    elif cfg["distill"]["level"] == "attention_maps":
        for s_pair, t_pair in pairs.items():
            s_shape, t_shape = student.map_shape(s_pair), teacher.map_shape(t_pair)
            if tuple(s_shape) != tuple(t_shape):
                raise SpaceError(f"map sizes differ: student {s_pair} is {s_shape[0]}x{s_shape[1]}, teacher "
                                 f"{t_pair} is {t_shape[0]}x{t_shape[1]} (use student.align: student_down)",
                                 field="distill.pairs")
    return teacher, student, loss
