"""Kind `distill`: a video-only student learns from a frozen teacher (paper 000).

The loss is alpha * L_task + beta * L_KD; beta = 0 is the no-KD baseline and needs no teacher.
"""

from __future__ import annotations

import torch

from kdsearch.errors import SpaceError
from kdsearch.spec import schema
from kdsearch.spec.kinds.base import ExperimentKind, Run, register_kind


@register_kind
class DistillKind(ExperimentKind):
    name = "distill"
    model_section = "student"
    model_arch = "video_student"
    exportable = True

    def sections(self, raw: dict, file: str) -> dict:
        from kdsearch.models.build import STUDENT_DEFAULTS
        from kdsearch.train.teachers import DEFAULT_ARCH, teacher_defaults

        if "model" in raw:
            raise SpaceError("only a kind: dmd experiment has a `model:` section (here: teacher and student)",
                             file=file, field="model")
        teacher = raw.get("teacher")
        arch = teacher.get("arch", DEFAULT_ARCH) if isinstance(teacher, dict) else DEFAULT_ARCH
        try:
            teacher_section = teacher_defaults(arch)
        except SpaceError as exc:
            raise SpaceError(exc.problem, file=file, field=exc.field) from None
        sections = {k: v for k, v in schema.EXPERIMENT_DEFAULTS.items() if k in schema.DISTILL_ONLY}
        return {**sections, "teacher": teacher_section, "student": dict(STUDENT_DEFAULTS)}

    def is_option(self, path: str) -> bool:
        from kdsearch.distill import option_names

        return path.startswith("distill.") and path.count(".") == 1 and path[8:] in option_names()

    def check(self, space) -> None:
        from kdsearch.spec.distill_checks import check_distill

        check_distill(space)

    def check_searched(self, cfg: dict, space, path: str) -> None:
        from kdsearch.spec.distill_checks import check_method, check_pairs

        if path.startswith(("student.", "distill.")):  # numeric model and loss options, built at both ends
            check_method(cfg, space.file)
            check_pairs(cfg, cfg["distill"]["method"], space=space)

    def summary(self, config: dict) -> str:
        return f"method {config['distill']['method']} at {config['distill']['level']}"

    def model_title(self, config: dict) -> str:
        return f"the configuration-{config['student']['config']} student"

    def needs_teacher(self, config: dict, searched=()) -> bool:
        return float(config["loss"]["beta"]) != 0.0 or "loss.beta" in searched

    def build_run(self, exp: dict, arrays: dict, teacher_blob: dict, device: torch.device, targets=None) -> Run:
        """Shared by search trials, `kdsearch train`, `replay` and `evaluate`, so each runs a
        trial's own code. `targets`: the teacher's cached targets over the training split
        (`kdsearch.train.teacher_targets`), read by sample index instead of running the teacher."""
        from kdsearch.train.experiment import build_kd_loss, build_student_only, labelled_mask, tensor_split
        from kdsearch.train.objectives import DistillObjective
        from kdsearch.train.tasks import get_task
        from kdsearch.train.teachers import build_any_teacher
        from kdsearch.train.trainer import Trainer, TrainSettings

        settings = TrainSettings.from_config(exp["train"])
        torch.manual_seed(settings.seed)
        task = get_task(exp["task"])
        dims, lengths = teacher_blob["dims"], teacher_blob["lengths"]
        student = build_student_only(exp, dims, lengths)
        kd = build_kd_loss(exp)
        teacher = None
        if kd is not None:
            teacher = build_any_teacher(teacher_blob["config"], dims=dims, lengths=lengths, n_out=teacher_blob["n_out"])
            teacher.load_state_dict(teacher_blob["state_dict"])
            teacher.to(device)
        train = tensor_split(arrays, "train", device)
        if kd is not None:  # heads, banks and resizers exist before the optimiser
            kd.bind(student=student, teacher=teacher, n_train=train.n, labels=train.label, task=exp["task"])
        lookup = None
        if kd is not None and targets is not None:
            from kdsearch.train.teacher_targets import TeacherTargets

            lookup = TeacherTargets(targets, device)
            if lookup.n != train.n:
                raise ValueError(f"teacher targets cover {lookup.n} samples, the training split has {train.n}")
        objective = DistillObjective(student, teacher, task, kd, alpha=exp["loss"]["alpha"], beta=exp["loss"]["beta"],
                                     targets=lookup)
        objective.to(device)
        trainer = Trainer(objective, task, settings)
        mask = labelled_mask(train.n, float(exp["train"]["labelled_fraction"]), int(exp["train"]["labelled_seed"]))
        train.labelled = None if mask is None else mask.to(device)
        return Run(trainer, train, tensor_split(arrays, "valid", device), student)

    def scoring_config(self, exp: dict) -> dict:
        """Scoring needs the trained student only: its objective is built without a teacher."""
        from kdsearch.config import with_overrides

        return with_overrides(exp, {"loss.beta": 0.0})
