"""Checks of a `kind: distill` space: method, level, options, pairs, and what the loss can align.

For every structure the space can build (each categorical combination, each row) the teacher,
student and loss are built on the meta device and the loss is bound to the models, through the
functions a trial uses (`kdsearch.train.experiment`), so what they refuse is refused here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kdsearch.config import did_you_mean
from kdsearch.errors import DataError, SpaceError, UserError, short

if TYPE_CHECKING:
    from kdsearch.spec.space import Space


def check_distill(space: "Space") -> None:
    """For every structure the space can build (each categorical combination, each row): method
    known, level allowed, options used by some method, pairs present, map sizes the loss can
    align; the loss is built and bound to the models, so what it refuses is refused here."""
    from kdsearch.spec.combos import categorical_configs

    from kdsearch.distill import option_names

    from kdsearch.spec.teacher_cache_plan import SETTINGS, check_settings

    file, distill = space.file, space.config["distill"]
    for key in distill:
        if key not in ("method", "level", "pairs", *SETTINGS) and key not in option_names():
            raise SpaceError(f"unknown key '{key}'"
                             + did_you_mean(str(key), option_names() | {"method", "level", "pairs", *SETTINGS}),
                             file=file, field=f"distill.{key}")
    check_settings(space)
    for path, spec in space.params.items():
        if path.startswith(("teacher.", "teacher_train.")) and spec.type != "categorical":
            raise SpaceError("teacher settings can only be searched as categorical choices (each choice is "
                             "one teacher, trained once)", file=file, field=f"params.{path}")
    configs = categorical_configs(space)
    for cfg in configs:  # methods first: option checks below would misreport an unknown method
        check_method(cfg, file)
    _check_options_used(space, configs)
    checked = set()
    for cfg in configs:
        method = cfg["distill"]["method"]
        where = f"row {short(cfg['row'])}: " if "row" in cfg else ""
        key = json.dumps([cfg["teacher"], cfg["student"], cfg["distill"], cfg["task"]], sort_keys=True, default=str)
        if key in checked:
            continue
        checked.add(key)
        try:
            check_pairs(cfg, method, space=space)  # builds the models: a non-bool attn_mask is refused there
            _check_same_mask(cfg)
        except DataError:
            raise  # the dataset file is at fault, and its message names it
        except UserError as exc:
            raise SpaceError(where + exc.problem, file=file, field=exc.field or "distill") from None
        except (ValueError, TypeError) as exc:
            raise SpaceError(where + str(exc), file=file, field="distill") from None
    _check_teacher_cache(space)


def _check_teacher_cache(space: "Space") -> None:
    """`distill.teacher_cache: on` whose targets cannot fit the object store is refused now."""
    from kdsearch.spec.teacher_cache_plan import cache_mode, plan_for_space

    if cache_mode(space.config) == "on":
        plan_for_space(space)


def _check_same_mask(cfg: dict) -> None:
    """Distilled attention maps are comparable only under one mask rule (docs/methods.md §5): a masked
    teacher map has zeros where the unmasked student's has mass, and EDAM would punish that."""
    if cfg["distill"]["level"] != "attention_maps":
        return
    teacher_mask, student_mask = cfg["teacher"].get("attn_mask", True), cfg["student"].get("attn_mask", True)
    if teacher_mask != student_mask:
        raise SpaceError(f"attention maps are distilled, so teacher and student need the same mask rule; "
                         f"teacher.attn_mask is {str(teacher_mask).lower()}, student.attn_mask is "
                         f"{str(student_mask).lower()}", field="student.attn_mask")


def check_method(cfg: dict, file: str) -> None:
    """Method registered, level allowed, pairs a mapping of names (or null) in one config."""
    from kdsearch.distill import LOSSES

    method, level, pairs = cfg["distill"]["method"], cfg["distill"]["level"], cfg["distill"]["pairs"]
    where = f"row {short(cfg['row'])}: " if "row" in cfg else ""
    if not isinstance(method, str) or method not in LOSSES:
        raise SpaceError(f"{where}unknown method {short(method)}; registered: {', '.join(sorted(LOSSES))}"
                         + did_you_mean(str(method), LOSSES), file=file, field="distill.method")
    if not isinstance(level, str) or level not in LOSSES[method].levels:
        raise SpaceError(f"{where}method {method} cannot distil at level {short(level)}; it allows "
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
                         f"null, got {short(pairs)}", file=file, field="distill.pairs")


def _check_options_used(space: "Space", configs: list[dict]) -> None:
    """Refuse a distill option that no method of the space takes (e.g. `align` with only crd):
    it would be silently ignored, and the user believes it is in effect."""
    from kdsearch.distill import LOSSES, loss_options, option_names

    methods = sorted({c["distill"]["method"] for c in configs if c["distill"]["method"] in LOSSES})
    taken = set().union(*(loss_options(m) for m in methods)) if methods else set()
    for cfg in configs:
        for key in cfg["distill"]:
            if key not in ("method", "level", "pairs") and key in option_names() and key not in taken:
                takers = sorted(m for m in LOSSES if key in loss_options(m))
                raise SpaceError(f"no method this space runs ({', '.join(methods)}) takes '{key}'; it is an option "
                                 f"of {', '.join(takers)}", file=space.file, field=f"distill.{key}")


def check_pairs(cfg: dict, method: str, space: "Space | None" = None) -> None:
    """Build the models and the loss of `cfg` on the meta device (sizes, no storage), check
    the pairs and what the loss can align, then that training them fits in memory."""
    from kdsearch.spec.model_memory import on_meta

    with on_meta(file=None, field="student"):
        teacher, student, loss = _bind_pairs(cfg, method)
    _check_fits(cfg, teacher, student, loss, space)


def _check_fits(cfg: dict, teacher, student, loss, space: "Space | None") -> None:
    """Peak training memory of a trial: the teacher trained alone, or frozen beside the student
    and the loss's heads; the bigger of the two phases names its model as the culprit."""
    from kdsearch.models.build import STUDENT_DEFAULTS, build_student, count_parameters
    from kdsearch.spec.model_memory import BYTES_FROZEN, BYTES_TRAINED, refuse_if_too_big
    from kdsearch.train.teachers import build_any_teacher, split_arch, teacher_defaults
    from kdsearch.train.experiment import data_shapes
    from kdsearch.train.tasks import get_task

    n_teacher, n_student = count_parameters(teacher), count_parameters(student, loss)
    teacher_phase, distill_phase = BYTES_TRAINED * n_teacher, BYTES_FROZEN * n_teacher + BYTES_TRAINED * n_student
    dims, lengths = data_shapes(cfg)
    n_out = get_task(cfg["task"]).n_out
    if teacher_phase >= distill_phase:
        section, params, defaults = "teacher", n_teacher, teacher_defaults(split_arch(cfg["teacher"])[0].name)

        def size_of(c: dict) -> int:
            return count_parameters(build_any_teacher(c, dims=dims, lengths=lengths, n_out=n_out))
    else:
        section, params, defaults = "student", n_student, STUDENT_DEFAULTS

        def size_of(c: dict) -> int:
            return count_parameters(build_student(c, dims=dims, lengths=lengths, n_out=n_out))
    refuse_if_too_big(need=max(teacher_phase, distill_phase), params=params, what=f"the {section}",
                      gpus_per_trial=space.resources["gpus_per_trial"] if space else 0.0, section=section,
                      cfg=cfg[section], defaults=defaults, size_of=size_of, searched=space.params if space else ())


def _bind_pairs(cfg: dict, method: str):
    """(teacher, student, loss) of `cfg`, the loss bound to the models as a trial binds it."""
    from kdsearch.data.source import train_size
    from kdsearch.models.options import InvalidOption
    from kdsearch.train.experiment import build_models, default_pairs, make_kd_loss

    teacher, student = build_models(cfg)
    pairs = cfg["distill"]["pairs"] or default_pairs(cfg)
    for s_pair, t_pair in pairs.items():
        if s_pair not in student.pair_names:
            raise SpaceError(f"student has no transformer {short(s_pair)}; it has {', '.join(student.pair_names)}",
                             field="distill.pairs")
        if t_pair not in teacher.pair_names:
            raise SpaceError(f"teacher has no transformer {short(t_pair)}; it has {', '.join(teacher.pair_names)}",
                             field="distill.pairs")
    loss = make_kd_loss(cfg)
    # The loss checks what it can align (EDAM: equal maps, or teacher_up; CRD: any sizes) and
    # builds its heads from the models' shapes, exactly as a trial will.
    try:
        loss.bind(student=student, teacher=teacher)
        loss.check_train_size(train_size(cfg["data"]))  # CRD: K negatives below the training-set size
    except InvalidOption as err:
        raise SpaceError(err.problem, field=f"distill.{err.option}") from None
    return teacher, student, loss
